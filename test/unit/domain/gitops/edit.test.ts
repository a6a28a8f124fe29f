import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { alignSequence, applyObjectChange, renderNewManifest } from '../../../../src/domain/gitops/edit';
import { findObject, ManifestError, type ObjectLocator, parseManifestFile } from '../../../../src/domain/gitops/manifest-file';

// ---- builders ----------------------------------------------------------------------------

const fixture = (name: string): string => readFileSync(join(__dirname, '../../../fixtures/gitops', name), 'utf8');

// Fixtures are arbitrary manifests the tests change by path, as a router would: `any` is their honest type.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- see above */
type Obj = Record<string, any>;

/** The object as the file holds it, and a deep copy to change. */
function read(text: string, l: ObjectLocator): { before: Obj; after: Obj } {
  const d = findObject(parseManifestFile('f.yaml', text), l);
  return { before: d.value as Obj, after: structuredClone(d.value) as Obj };
}

/** Line numbers (1-based) whose text differs, for files with the same number of lines. */
function changedLines(a: string, b: string): number[] {
  const x = a.split('\n');
  const y = b.split('\n');
  expect(y).toHaveLength(x.length);
  return x.flatMap((l, i) => (l === y[i] ? [] : [i + 1]));
}

/** Applies `change` to a copy of the object and writes it back. */
function edit(text: string, l: ObjectLocator, change: (o: Obj) => void): string {
  const { before, after } = read(text, l);
  change(after);
  return applyObjectChange(text, l, before, after, { file: 'f.yaml' });
}

const VS = (name: string, namespace?: string): ObjectLocator => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', name, namespace });
const DR: ObjectLocator = { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', name: 'reviews', namespace: 'bookinfo' };
const ROUTE: ObjectLocator = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', name: 'checkout', namespace: 'shop' };
const DEPLOY = (name: string, namespace: string): ObjectLocator => ({ apiVersion: 'apps/v1', kind: 'Deployment', name, namespace });

const headerEntry = (host: string, subset?: string) => ({
  name: 'ramp-header-beta',
  match: [{ uri: { prefix: '/reviews' }, headers: { 'x-beta': { exact: 'yes' } } }],
  route: [{ destination: { host, ...(subset ? { subset } : {}) } }],
});

// ---- in-place scalar changes ---------------------------------------------------------------

describe('weight changes touch exactly the weight lines', () => {
  const cases: { file: string; locator: ObjectLocator; change: (o: Obj) => void; lines: Record<number, string> }[] = [
    {
      file: 'virtualservice.yaml', locator: VS('reviews', 'bookinfo'),
      change: (o) => { o.spec.http[0].route[0].weight = 40; o.spec.http[0].route[1].weight = 60; },
      // The comment on the changed line stays as written, even though it now says 90%: Ramp does not rewrite prose.
      lines: { 22: '          weight: 40 # 90% stable', 26: '          weight: 60' },
    },
    {
      file: 'multi.yaml', locator: VS('podinfo', 'test'),
      change: (o) => { o.spec.http[0].route[0].weight = 75; o.spec.http[0].route[1].weight = 25; },
      lines: { 50: '      weight: 75', 53: '      weight: 25' },
    },
    {
      file: 'kustomize-vs-patch.yaml', locator: VS('storefront'),
      change: (o) => { o.spec.http[1].route[0].weight = 95; },
      lines: { 25: '      weight: 95' },
    },
    {
      file: 'httproute.yaml', locator: ROUTE,
      change: (o) => { o.spec.rules[0].backendRefs[0].weight = 50; o.spec.rules[0].backendRefs[1].weight = 50; },
      lines: { 22: '      weight: 50', 25: '      weight: 50' },
    },
    {
      file: 'multi.yaml', locator: DEPLOY('podinfo', 'test'),
      change: (o) => { o.spec.template.spec.containers[0].image = 'ghcr.io/stefanprodan/podinfo:6.6.0'; },
      // Double quotes and the trailing comment are kept.
      lines: { 32: '        image: "ghcr.io/stefanprodan/podinfo:6.6.0"   # pinned' },
    },
    {
      file: 'deployment.yaml', locator: DEPLOY('storefront', 'prod'),
      change: (o) => { o.spec.template.spec.containers[0].image = 'registry.example.com/storefront:1.5.0'; },
      lines: { 18: '        image: registry.example.com/storefront:1.5.0 # bumped by CI' },
    },
    {
      file: 'deployment.yaml', locator: DEPLOY('storefront', 'prod'),
      change: (o) => { o.metadata.annotations.owner = "team-web's"; o.spec.template.metadata.labels.version = 'canary'; },
      // Single quotes stay single (the quote doubled); a value in a flow map is changed inside it.
      lines: { 7: "    owner: 'team-web''s'", 14: '      labels: {app: storefront, version: canary}' },
    },
    {
      file: 'virtualservice.yaml', locator: VS('reviews', 'bookinfo'),
      change: (o) => { o.spec.http[1].route[0].destination.subset = 'v2'; o.spec.gateways[1] = 'bookinfo/internal'; },
      lines: { 11: '  gateways: [mesh, bookinfo/internal]', 31: '        - destination: {host: reviews, subset: v2}' },
    },
  ];
  it.each(cases)('$file: $lines', ({ file, locator, change, lines }) => {
    const text = fixture(file);
    const out = edit(text, locator, change);
    const changed = changedLines(text, out);
    expect(Object.fromEntries(changed.map((n) => [n, out.split('\n')[n - 1]]))).toEqual(lines);
  });

  it('a number that must stay a string is quoted; a plain string that would read as a number is too', () => {
    const text = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: x\n  b: "1"\n';
    const out = edit(text, { apiVersion: 'v1', kind: 'ConfigMap', name: 'c' }, (o) => { o.data.a = '42'; o.data.b = 'true'; });
    expect(out).toBe('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: "42"\n  b: "true"\n');
  });
});

// ---- entries added and removed -------------------------------------------------------------

describe('entries added, then removed, restore the original bytes', () => {
  const cases: { name: string; file: string; locator: ObjectLocator; change: (o: Obj) => void; inserted: string }[] = [
    {
      name: 'a ramp-header route before the weighted route (above its comment)', file: 'virtualservice.yaml', locator: VS('reviews', 'bookinfo'),
      change: (o) => o.spec.http.unshift(headerEntry('reviews', 'v2')),
      inserted: [
        '    - name: ramp-header-beta',
        '      match:',
        '        - uri:',
        '            prefix: /reviews',
        '          headers:',
        '            x-beta:',
        '              exact: "yes"',
        '      route:',
        '        - destination:',
        '            host: reviews',
        '            subset: v2',
        '    # the primary route: weighted between v1 and v2',
      ].join('\n'),
    },
    {
      name: 'a sticky-session route in a kustomize patch with unindented sequences', file: 'kustomize-vs-patch.yaml', locator: VS('storefront'),
      change: (o) => o.spec.http.splice(1, 0, {
        name: 'ramp-sticky',
        match: [{ headers: { cookie: { regex: '^(.*?;)?(ramp-canary=v2)(;.*)?$' } } }],
        route: [{ destination: { host: 'storefront', subset: 'canary' } }],
      }),
      inserted: [
        '  - name: ramp-sticky',
        '    match:',
        '    - headers:',
        '        cookie:',
        '          regex: ^(.*?;)?(ramp-canary=v2)(;.*)?$',
        '    route:',
        '    - destination:',
        '        host: storefront',
        '        subset: canary',
        '  - name: web',
      ].join('\n'),
    },
    {
      name: 'a subset appended (before the comment that ends the list)', file: 'destinationrule.yaml', locator: DR,
      change: (o) => o.spec.subsets.push({ name: 'ramp-canary', labels: { version: 'v3' } }),
      inserted: '  - name: ramp-canary\n    labels:\n      version: v3\n  # subsets end here',
    },
    {
      name: 'a route destination added', file: 'multi.yaml', locator: VS('podinfo', 'test'),
      change: (o) => o.spec.http[0].route.push({ destination: { host: 'podinfo-mirror' }, weight: 0 }),
      inserted: '    - destination:\n        host: podinfo-mirror\n      weight: 0',
    },
    {
      name: 'a rule and a key in a flow map', file: 'httproute.yaml', locator: ROUTE,
      change: (o) => {
        o.spec.rules.unshift({ name: 'ramp-header-beta', backendRefs: [{ name: 'checkout-canary', port: 8080 }] });
        o.spec.rules[1].matches[0].headers = [{ name: 'x-beta', value: 'yes' }];
      },
      inserted: '  - name: ramp-header-beta',
    },
    {
      name: 'a map key (mirror) at the end of the route map', file: 'virtualservice.yaml', locator: VS('reviews', 'bookinfo'),
      change: (o) => { o.spec.http[0].mirror = { host: 'reviews', subset: 'v2' }; o.spec.http[0].mirrorPercentage = { value: 5 }; },
      inserted: '      timeout: 10s\n      mirror:\n        host: reviews\n        subset: v2\n      mirrorPercentage:\n        value: 5',
    },
    {
      name: 'an item in a flow sequence', file: 'virtualservice.yaml', locator: VS('reviews', 'bookinfo'),
      change: (o) => { o.spec.gateways.push('bookinfo/canary'); o.metadata.labels.tier = 'backend'; },
      inserted: '  gateways: [mesh, bookinfo/public, bookinfo/canary]',
    },
  ];
  it.each(cases)('$name', ({ file, locator, change, inserted }) => {
    const text = fixture(file);
    const { before } = read(text, locator);
    const added = edit(text, locator, change);
    expect(added).toContain(inserted);
    // Everything the file had is still there, in order: only lines were added (or changed in place for flow).
    const { after: withEntry } = read(added, locator);
    const restored = applyObjectChange(added, locator, withEntry, before);
    expect(restored).toBe(text);
  });

  it('the weighted entry changes in the same edit as a header route is added: the entry keeps its lines', () => {
    const text = fixture('kustomize-vs-patch.yaml');
    const out = edit(text, VS('storefront'), (o) => {
      o.spec.http[0].route[0].weight = 80;
      o.spec.http[0].route.push({ destination: { host: 'storefront', subset: 'canary' }, weight: 20 });
      o.spec.http.unshift({ ...headerEntry('storefront', 'canary'), name: 'ramp-header-api' });
    });
    expect(out).toContain('  - name: api\n    match:\n    - uri:\n        prefix: /api\n    route:\n    - destination:\n        host: storefront\n        subset: stable\n      weight: 80\n    - destination:\n        host: storefront\n        subset: canary\n      weight: 20\n  - name: web\n');
    expect(out.startsWith(text.split('  - name: api')[0]! + '  - name: ramp-header-api\n')).toBe(true);
  });

  it('a flow-sequence item removed and a flow-map key removed', () => {
    const text = fixture('virtualservice.yaml');
    const out = edit(text, VS('reviews', 'bookinfo'), (o) => { o.spec.gateways.shift(); delete o.metadata.labels.team; });
    expect(changedLines(text, out)).toEqual([7, 11]);
    expect(out).toContain('  labels: {app: reviews}\n');
    expect(out).toContain('  gateways: [bookinfo/public]\n');
  });

  it('a subset removed from the middle takes its lines and nothing else', () => {
    const text = fixture('destinationrule.yaml');
    const out = edit(text, DR, (o) => o.spec.subsets.splice(0, 1));
    expect(out).toBe(text.replace('  - name: v1\n    labels:\n      version: v1\n', ''));
  });

  it('the last subset removed leaves an empty flow list', () => {
    const text = 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: r\nspec:\n  host: r\n  subsets:   # Ramp adds subsets here\n  - name: ramp-canary\n    labels:\n      version: v2\n  trafficPolicy: {}\n';
    const out = edit(text, { ...DR, name: 'r', namespace: undefined }, (o) => { o.spec.subsets = []; });
    expect(out).toBe('apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: r\nspec:\n  host: r\n  subsets: []\n  trafficPolicy: {}\n');
  });
});

// ---- whole-file properties -----------------------------------------------------------------

describe('the rest of the file keeps its bytes', () => {
  it('other documents of a multi-document file are byte-identical', () => {
    const text = fixture('multi.yaml');
    const out = edit(text, VS('podinfo', 'test'), (o) => o.spec.http[0].route.push({ destination: { host: 'x' } }));
    const [head] = text.split('apiVersion: networking.istio.io/v1beta1');
    expect(out.startsWith(head!)).toBe(true);
    const docs = parseAllDocuments(out).map((d) => d.toJS() as unknown);
    expect(docs.slice(0, 2)).toEqual(parseAllDocuments(text).slice(0, 2).map((d) => d.toJS() as unknown));
  });

  it('CRLF files stay CRLF: changed and added lines end in CRLF, the rest is untouched', () => {
    const text = fixture('destinationrule.yaml').replace(/\n/g, '\r\n');
    const out = edit(text, DR, (o) => { o.spec.subsets.push({ name: 'v3', labels: { version: 'v3' } }); o.spec.host = 'reviews.bookinfo.svc.cluster.local'; });
    expect(out.replace(/\r\n/g, '')).not.toContain('\n');
    expect(out).toContain('  host: reviews.bookinfo.svc.cluster.local\r\n');
    expect(out).toContain('      version: v2\r\n  - name: v3\r\n    labels:\r\n      version: v3\r\n  # subsets end here\r\n');
    const { after } = read(out, DR);
    expect(applyObjectChange(out, DR, after, read(text, DR).before)).toBe(text);
  });

  it('a file mixing CRLF and LF is refused, named', () => {
    const text = fixture('destinationrule.yaml').replace('\n', '\r\n');
    expect(() => edit(text, DR, (o) => { o.spec.host = 'x'; })).toThrow(/f\.yaml: mixes CRLF and LF line endings \(1 CRLF, 17 LF\)/);
  });

  it('a file without a final line break: appended lines go after a break, and removing them restores it', () => {
    const text = fixture('destinationrule.yaml').replace('  # subsets end here\n', '').replace(/\n$/, '');
    const { before } = read(text, DR);
    const out = edit(text, DR, (o) => o.spec.subsets.push({ name: 'v3' }));
    expect(out).toBe(`${text}\n  - name: v3`);
    expect(applyObjectChange(out, DR, read(out, DR).before, before)).toBe(text);
  });

  it('a value whose kind changes is rewritten at its place, in the file\'s indentation', () => {
    const text = fixture('deployment.yaml');
    const out = edit(text, DEPLOY('storefront', 'prod'), (o) => { o.spec.replicas = { note: 'odd but legal' }; });
    expect(out).toContain('  replicas:\n    note: odd but legal\n  selector:');
  });
});

// ---- refusals ------------------------------------------------------------------------------

describe('what the editor refuses, and how it says so', () => {
  const anchored = [
    'apiVersion: networking.istio.io/v1',
    'kind: VirtualService',
    'metadata:',
    '  name: reviews',
    'spec:',
    '  http:',
    '  - name: primary',
    '    route: &split',
    '    - destination: {host: reviews, subset: v1}',
    '      weight: 100',
    '  - name: mobile',
    '    route: *split',
    '',
  ].join('\n');

  it.each([
    ['a value under an anchor', (o: Obj) => { o.spec.http[0].route[0].weight = 50; }, /document 1 \(line 9\): spec\.http\[0\]\.route: carries the anchor &split/],
    // The alias reads as the same array as the anchor: a new array is a change of the alias alone.
    ['an alias', (o: Obj) => { o.spec.http[1].route = [{ destination: { host: 'reviews', subset: 'v2' }, weight: 100 }]; }, /document 1 \(line 12\): spec\.http\[1\]\.route: is an alias \(\*split\).*Write the value out in full at spec\.http\[1\]\.route/],
    ['removing the anchor\'s definition', (o: Obj) => { o.spec.http.shift(); }, /spec\.http\[0\]: would be removed or replaced, but it defines the anchor &split/],
  ])('%s', (_name, change, message) => {
    expect(() => edit(anchored, VS('reviews'), change)).toThrow(message);
  });

  it('an alias nobody edits is left alone', () => {
    const out = edit(anchored, VS('reviews'), (o) => { o.spec.http[1].name = 'phone'; });
    expect(out).toBe(anchored.replace('name: mobile', 'name: phone'));
  });

  it('a block scalar is not rewritten', () => {
    const text = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: |\n    x\n';
    expect(() => edit(text, { apiVersion: 'v1', kind: 'ConfigMap', name: 'c' }, (o) => { o.data.a = 'y'; })).toThrow(/data\.a: is a block scalar \(\|\)/);
  });

  it('a stale `before` is refused, naming the path that differs', () => {
    const text = fixture('virtualservice.yaml');
    const { before, after } = read(text, VS('reviews', 'bookinfo'));
    before.spec.http[0].route[0].weight = 80;
    expect(() => applyObjectChange(text, VS('reviews', 'bookinfo'), before, after, { file: 'vs.yaml' }))
      .toThrow(/vs\.yaml: document 1 \(line 2\): spec\.http\[0\]\.route\[0\]\.weight of VirtualService reviews is not what the change was computed from/);
  });
});

describe('alignSequence', () => {
  it.each([
    ['inserted in front', [{ name: 'a' }], [{ name: 'ramp-x' }, { name: 'a' }], [[1, 0]]],
    ['same count: changed in place', [{ name: 'a', w: 1 }, { name: 'b' }], [{ name: 'a', w: 2 }, { name: 'b' }], [[0, 0], [1, 1]]],
    ['changed and inserted: paired by name', [{ name: 'a', w: 1 }], [{ name: 'ramp-x' }, { name: 'a', w: 2 }], [[1, 0]]],
    ['removed', [{ name: 'ramp-x' }, { name: 'a' }], [{ name: 'a' }], [[0, 1]]],
    ['route entries paired by destination', [{ destination: { host: 'a' }, weight: 100 }], [{ destination: { host: 'a' }, weight: 90 }, { destination: { host: 'b' }, weight: 10 }], [[0, 0]]],
  ])('%s', (_name, a, b, pairs) => {
    expect([...alignSequence(a, b).entries()].sort()).toEqual(pairs);
  });
});

describe('renderNewManifest', () => {
  it('writes a header comment and the object, and reads back as the object', () => {
    const obj = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web-canary' }, spec: { replicas: 1 } };
    const out = renderNewManifest(obj, 'Written by Ramp for rollout prod/web.\nRamp deletes it when the rollout ends.');
    expect(out).toBe('# Written by Ramp for rollout prod/web.\n# Ramp deletes it when the rollout ends.\n\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-canary\nspec:\n  replicas: 1\n');
    expect(parseAllDocuments(out)[0]!.toJS()).toEqual(obj);
  });
});

it('a ManifestError carries file, document and line', () => {
  const e = new ManifestError('a.yaml', 'boom', 1, 7);
  expect([e.message, e.file, e.document, e.line]).toEqual(['a.yaml: document 2 (line 7): boom', 'a.yaml', 1, 7]);
});
