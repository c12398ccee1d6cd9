import { InitialSchema1767225600000 } from './1767225600000-initial-schema.migration';
import { Agents1767484800000 } from './1767484800000-agents.migration';
import { Approvals1767398400000 } from './1767398400000-approvals.migration';
import { Tools1767571200000 } from './1767571200000-tools.migration';
import { ActiveExecutionsIndex1767657600000 } from './1767657600000-active-executions-index.migration';

/** Checked-in migrations, oldest first. Add new ones at the end; never edit an applied one. */
export const MIGRATIONS = [InitialSchema1767225600000, Approvals1767398400000, Agents1767484800000, Tools1767571200000, ActiveExecutionsIndex1767657600000];
