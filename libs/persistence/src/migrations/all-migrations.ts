import { InitialSchema1767225600000 } from './1767225600000-initial-schema.migration';

/** Checked-in migrations, oldest first. Add new ones at the end; never edit an applied one. */
export const MIGRATIONS = [InitialSchema1767225600000];
