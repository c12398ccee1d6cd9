import { JetflowError } from '@jetflow/contracts';
import { checkOutboundUrl, classifyAddress, OutboundRefusedError, type HostResolver, type OutboundPolicy } from './outbound-guard';

const open: OutboundPolicy = { allowPrivate: true };
const closed: OutboundPolicy = { allowPrivate: false };

/** A resolver from a fixed table; counts its calls. */
function table(entries: Record<string, string[]>): HostResolver & { calls: string[] } {
  const calls: string[] = [];
  const fn = (async (host: string) => {
    calls.push(host);
    const found = entries[host];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return found.map((address) => ({ address, family: address.includes(':') ? (6 as const) : (4 as const) }));
  }) as unknown as HostResolver & { calls: string[] };
  fn.calls = calls;
  return fn;
}

async function refusal(url: string, policy: OutboundPolicy, resolver: HostResolver = table({})): Promise<string> {
  const err = await checkOutboundUrl(url, policy, resolver).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OutboundRefusedError);
  expect(err).toMatchObject({ code: 'TOOL_ERROR' });
  return (err as Error).message;
}

describe('classifyAddress', () => {
  it.each([
    ['169.254.169.254', 'refused'],
    ['169.254.0.1', 'refused'],
    ['169.254.255.255', 'refused'],
    ['0.0.0.0', 'refused'],
    ['0.1.2.3', 'refused'],
    ['224.0.0.1', 'refused'],
    ['255.255.255.255', 'refused'],
    ['fd00:ec2::254', 'refused'],
    ['fe80::1', 'refused'],
    ['::', 'refused'],
    ['ff02::1', 'refused'],
    ['::ffff:169.254.169.254', 'refused'],
    ['::ffff:a9fe:a9fe', 'refused'],
    ['64:ff9b::a9fe:a9fe', 'refused'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.10', 'private'],
    ['127.0.0.1', 'private'],
    ['127.8.9.10', 'private'],
    ['100.64.0.1', 'private'],
    ['::1', 'private'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:7f00:1', 'private'],
    ['172.32.0.1', 'public'],
    ['172.15.255.255', 'public'],
    ['8.8.8.8', 'public'],
    ['169.253.1.1', 'public'],
    ['2001:4860:4860::8888', 'public'],
    ['not-an-ip', 'refused'],
  ])('%s is %s', (ip, kind) => {
    expect(classifyAddress(ip)).toBe(kind);
  });
});

describe('checkOutboundUrl', () => {
  it('refuses the metadata IP and the whole link-local range even when private networks are allowed', async () => {
    expect(await refusal('http://169.254.169.254/latest/meta-data', open)).toMatch(/169\.254\.169\.254 is a link-local/);
    await refusal('http://169.254.1.2:8080/x', open);
    await refusal('http://0.0.0.0:3000/', open);
  });

  it('refuses IPv6 metadata, link-local and IPv4-mapped forms', async () => {
    await refusal('http://[fd00:ec2::254]/latest/meta-data', open);
    await refusal('http://[fe80::1]/', open);
    await refusal('http://[::ffff:169.254.169.254]/', open);
    await refusal('http://[::]/', open);
  });

  it('refuses other spellings of the metadata IP (decimal, hex, short forms are normalized by the URL parser)', async () => {
    await refusal('http://2852039166/', open);
    await refusal('http://0xa9fea9fe/', open);
    await refusal('http://169.254.43518/', open);
    await refusal('http://0/', open);
  });

  it('refuses metadata host names without asking DNS, whatever their case or trailing dot', async () => {
    const resolver = table({ 'metadata.google.internal': ['8.8.8.8'] });
    for (const host of ['metadata.google.internal', 'METADATA.Google.Internal.', 'metadata', 'instance-data', 'metadata.goog']) {
      expect(await refusal(`http://${host}/computeMetadata/v1/`, open, resolver)).toMatch(/metadata host/);
    }
    expect(resolver.calls).toEqual([]);
  });

  it('refuses a DNS name that resolves to the metadata address (after resolution)', async () => {
    const resolver = table({ 'innocent.example.com': ['169.254.169.254'] });
    expect(await refusal('http://innocent.example.com/latest/meta-data', open, resolver)).toMatch(/innocent\.example\.com \(169\.254\.169\.254\)/);
    expect(resolver.calls).toEqual(['innocent.example.com']);
  });

  it('refuses a name when any of its addresses is refused (the connection could use any)', async () => {
    await refusal('https://multi.example.com/', open, table({ 'multi.example.com': ['93.184.216.34', 'fd00:ec2::254'] }));
    await refusal('https://multi.example.com/', closed, table({ 'multi.example.com': ['93.184.216.34', '10.1.2.3'] }));
  });

  it('private ranges follow allowPrivate, as literals and after DNS', async () => {
    const resolver = table({ 'internal.corp': ['10.0.0.7'], 'localhost': ['127.0.0.1', '::1'] });
    for (const url of ['http://10.0.0.7/', 'http://172.20.1.1/', 'http://192.168.0.1/', 'http://127.0.0.1:8080/', 'http://[::1]/', 'http://[fd12::1]/', 'http://internal.corp/', 'http://localhost:3000/']) {
      expect(await refusal(url, closed, resolver)).toMatch(/private address/);
      await expect(checkOutboundUrl(url, open, resolver)).resolves.toMatchObject({ url: expect.any(URL) });
    }
  });

  it('returns the checked address to connect to (pinned, no second lookup)', async () => {
    const resolver = table({ 'api.example.com': ['93.184.216.34', '2606:2800:220:1::1'] });
    await expect(checkOutboundUrl('https://api.example.com/v1', closed, resolver)).resolves.toMatchObject({ hostname: 'api.example.com', address: '93.184.216.34', family: 4 });
    await expect(checkOutboundUrl('http://[2606:2800:220:1::1]/', closed, resolver)).resolves.toMatchObject({ address: '2606:2800:220:1::1', family: 6 });
  });

  it('applies the deny list to names, wildcards, IPs and CIDRs', async () => {
    const resolver = table({ 'api.example.com': ['93.184.216.34'], 'x.bad.io': ['93.184.216.35'], 'sneaky.example.org': ['10.9.0.1'] });
    const policy: OutboundPolicy = { allowPrivate: true, denyHosts: ['api.example.com', '*.bad.io', '8.8.8.8', '10.9.0.0/16'] };
    expect(await refusal('http://API.example.com/', policy, resolver)).toMatch(/deny list/);
    await refusal('http://x.bad.io/', policy, resolver);
    await refusal('http://8.8.8.8/', policy, resolver);
    expect(await refusal('http://sneaky.example.org/', policy, resolver)).toMatch(/10\.9\.0\.1.*deny list/);
    await expect(checkOutboundUrl('http://10.8.0.1/', policy, resolver)).resolves.toBeDefined();
  });

  it('applies the allow list (exact, *.sub and .domain forms); metadata stays refused even if listed', async () => {
    const resolver = table({ 'api.example.com': ['93.184.216.34'], 'a.partner.io': ['93.184.216.35'], 'partner.io': ['93.184.216.36'], 'other.com': ['93.184.216.37'] });
    const policy: OutboundPolicy = { allowPrivate: true, allowHosts: ['api.example.com', '*.partner.io', 'metadata.google.internal', '169.254.169.254'] };
    await expect(checkOutboundUrl('https://api.example.com/', policy, resolver)).resolves.toBeDefined();
    await expect(checkOutboundUrl('https://a.partner.io/', policy, resolver)).resolves.toBeDefined();
    expect(await refusal('https://partner.io/', policy, resolver)).toMatch(/not on the allow list/);
    await refusal('https://other.com/', policy, resolver);
    await refusal('http://metadata.google.internal/', policy, resolver);
    await refusal('http://169.254.169.254/', policy, resolver);
    await expect(checkOutboundUrl('https://partner.io/', { allowPrivate: true, allowHosts: ['.partner.io'] }, resolver)).resolves.toBeDefined();
  });

  it('refuses non-http schemes, credentials in the URL and garbage', async () => {
    await refusal('file:///etc/passwd', open);
    await refusal('ftp://example.com/', open);
    await refusal('http://user:pw@example.com/', open);
    await refusal('not a url', open);
  });

  it('an unknown host is a terminal TOOL_ERROR; a DNS hiccup a plain (retryable) error', async () => {
    const err = await checkOutboundUrl('http://nope.invalid/', open, table({})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JetflowError);
    expect(err).toMatchObject({ code: 'TOOL_ERROR', message: 'cannot resolve nope.invalid: ENOTFOUND' });
    const flaky: HostResolver = async () => {
      throw Object.assign(new Error('try again'), { code: 'EAI_AGAIN' });
    };
    const again = await checkOutboundUrl('http://flaky.example/', open, flaky).catch((e: unknown) => e);
    expect(again).not.toBeInstanceOf(JetflowError);
    expect((again as Error).message).toMatch(/EAI_AGAIN/);
  });
});
