import { BlockList, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { JetflowError } from '@jetflow/contracts';

/** Where outbound calls (api_call, HTTP tools) may go. Built from config once at boot. */
export interface OutboundPolicy {
  /** Private ranges (10/8, 172.16/12, 192.168/16, 127/8, 100.64/10, ::1, fc00::/7) reachable or not. */
  readonly allowPrivate: boolean;
  /** When non-empty, only these host names (`*.example.com` = any subdomain) may be called. */
  readonly allowHosts?: readonly string[];
  /** Host names (`*.` wildcard allowed), IPs or CIDRs that are never called. */
  readonly denyHosts?: readonly string[];
}

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** DNS resolution, injectable for tests; the default asks the OS for every address. */
export type HostResolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export const systemResolver: HostResolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/** A checked destination: connect to `address` (never re-resolve `hostname`, so no DNS rebinding). */
export interface OutboundTarget {
  readonly url: URL;
  readonly hostname: string;
  readonly address: string;
  readonly family: 4 | 6;
}

/** Cloud metadata endpoints by name: refused whatever the policy says. */
const METADATA_HOSTS = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.azure.internal',
  'metadata.platformequinix.com',
]);

/** Link-local / metadata / unspecified / multicast: never a legitimate API destination. */
const ALWAYS_REFUSED = new BlockList();
ALWAYS_REFUSED.addSubnet('0.0.0.0', 8, 'ipv4');
ALWAYS_REFUSED.addSubnet('169.254.0.0', 16, 'ipv4');
ALWAYS_REFUSED.addSubnet('224.0.0.0', 4, 'ipv4');
ALWAYS_REFUSED.addSubnet('240.0.0.0', 4, 'ipv4');
ALWAYS_REFUSED.addAddress('::', 'ipv6');
ALWAYS_REFUSED.addAddress('fd00:ec2::254', 'ipv6');
ALWAYS_REFUSED.addSubnet('fe80::', 10, 'ipv6');
ALWAYS_REFUSED.addSubnet('ff00::', 8, 'ipv6');

const PRIVATE = new BlockList();
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('127.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4');
PRIVATE.addAddress('::1', 'ipv6');
PRIVATE.addSubnet('fc00::', 7, 'ipv6');

export type AddressClass = 'public' | 'private' | 'refused';

/** Classifies an IP literal; IPv4-mapped / NAT64 IPv6 forms are judged by their IPv4 address. */
export function classifyAddress(address: string): AddressClass {
  const ip = unwrapIp(address);
  const family = isIP(ip);
  if (family === 0) return 'refused';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (ALWAYS_REFUSED.check(ip, type)) return 'refused';
  if (PRIVATE.check(ip, type)) return 'private';
  return 'public';
}

/** Thrown when a destination is refused: a terminal TOOL_ERROR (retrying cannot help). */
export class OutboundRefusedError extends JetflowError {
  constructor(message: string) {
    super('TOOL_ERROR', `outbound call refused: ${message}`);
    this.name = 'OutboundRefusedError';
  }
}

/**
 * Checks a URL against the policy and resolves it: metadata names and link-local addresses are
 * always refused, by name, as a literal and after DNS (every resolved address must pass, since the
 * connection could use any). Returns the address to connect to.
 */
export async function checkOutboundUrl(raw: string | URL, policy: OutboundPolicy, resolve: HostResolver = systemResolver): Promise<OutboundTarget> {
  let url: URL;
  try {
    url = typeof raw === 'string' ? new URL(raw) : raw;
  } catch {
    throw new OutboundRefusedError('not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OutboundRefusedError(`scheme ${url.protocol} is not http(s)`);
  if (url.username || url.password) throw new OutboundRefusedError('credentials in the URL are not allowed (use headers)');
  const hostname = normalizeHost(url.hostname);
  if (!hostname) throw new OutboundRefusedError('URL has no host');
  if (METADATA_HOSTS.has(hostname)) throw new OutboundRefusedError(`${hostname} is a cloud metadata host`);
  if (matchesAny(hostname, policy.denyHosts)) throw new OutboundRefusedError(`${hostname} is on the deny list`);
  if (policy.allowHosts?.length && !matchesAny(hostname, policy.allowHosts)) throw new OutboundRefusedError(`${hostname} is not on the allow list`);

  let addresses: readonly ResolvedAddress[];
  if (isIP(hostname)) addresses = [{ address: hostname, family: isIP(hostname) === 6 ? 6 : 4 }];
  else {
    try {
      addresses = await resolve(hostname);
    } catch (err) {
      const code = (err as { code?: string }).code;
      // A name that does not exist is final; a DNS hiccup (EAI_AGAIN...) stays a retryable Error.
      if (code === 'ENOTFOUND' || code === 'ENODATA') throw new JetflowError('TOOL_ERROR', `cannot resolve ${hostname}: ${code}`);
      throw new Error(`cannot resolve ${hostname}: ${code ?? (err as Error).message}`);
    }
    if (addresses.length === 0) throw new JetflowError('TOOL_ERROR', `cannot resolve ${hostname}: no addresses`);
  }
  for (const a of addresses) {
    const kind = classifyAddress(a.address);
    const shown = a.address === hostname ? hostname : `${hostname} (${a.address})`;
    if (kind === 'refused') throw new OutboundRefusedError(`${shown} is a link-local, metadata or non-unicast address`);
    if (kind === 'private' && !policy.allowPrivate) throw new OutboundRefusedError(`${shown} is a private address (API_CALL_ALLOW_PRIVATE=false)`);
    if (matchesAny(unwrapIp(a.address), policy.denyHosts)) throw new OutboundRefusedError(`${shown} is on the deny list`);
  }
  const first = addresses[0]!;
  return { url, hostname, address: first.address, family: first.family };
}

/** Lower case, no trailing dot, no IPv6 brackets. */
function normalizeHost(host: string): string {
  let h = host.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  while (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** `::ffff:a.b.c.d`, `::ffff:xxxx:xxxx` and NAT64 `64:ff9b::/96` carry an IPv4 address. */
function unwrapIp(address: string): string {
  const ip = normalizeHost(address);
  if (isIP(ip) !== 6) return ip;
  const m = /^(?:0{0,4}:){0,5}(?::|0{0,4}:)?ffff:(.+)$/i.exec(ip) ?? /^64:ff9b::(.+)$/i.exec(ip);
  if (!m) return ip;
  const tail = m[1]!;
  if (isIP(tail) === 4) return tail;
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(tail);
  if (!hex) return ip;
  const hi = parseInt(hex[1]!, 16);
  const lo = parseInt(hex[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** Entries: exact host, `*.suffix` (subdomains only), `.suffix` (domain and subdomains), IP or CIDR. */
function matchesAny(host: string, entries: readonly string[] | undefined): boolean {
  if (!entries?.length) return false;
  const hostIp = isIP(host);
  for (const raw of entries) {
    const e = normalizeHost(raw.trim());
    if (!e) continue;
    if (hostIp) {
      const [base, bits] = e.split('/');
      const family = isIP(base ?? '');
      if (!family) continue;
      if (family !== hostIp) continue;
      const list = new BlockList();
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (bits !== undefined) list.addSubnet(base!, Number(bits), type);
      else list.addAddress(base!, type);
      if (list.check(host, type)) return true;
      continue;
    }
    if (e.startsWith('*.')) {
      if (host.endsWith(e.slice(1))) return true;
    } else if (e.startsWith('.')) {
      if (host === e.slice(1) || host.endsWith(e)) return true;
    } else if (host === e) return true;
  }
  return false;
}
