import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findObject, groupOf, ManifestError, type ObjectLocator, parseManifestFile } from '../../../../src/domain/gitops/manifest-file';

const multi = readFileSync(join(__dirname, '../../../fixtures/gitops/multi.yaml'), 'utf8');
const loc = (kind: string, apiVersion: string, name = 'podinfo', namespace?: string): ObjectLocator => ({ kind, apiVersion, name, namespace });

describe('findObject', () => {
  it.each([
    ['the Service (core group)', loc('Service', 'v1'), 1, 2],
    ['the Deployment, namespace given', loc('Deployment', 'apps/v1', 'podinfo', 'test'), 2, 15],
    ['the VirtualService, by group: v1 finds v1beta1', loc('VirtualService', 'networking.istio.io/v1'), 3, 38],
  ])('%s', (_name, l, document, line) => {
    const d = findObject(parseManifestFile('app.yaml', multi), l);
    expect([d.index + 1, d.line]).toEqual([document, line]);
  });

  it.each([
    ['another namespace', loc('Deployment', 'apps/v1', 'podinfo', 'prod'), /app\.yaml: holds no Deployment prod\/podinfo \(apps group\); it holds Service podinfo \(document 1\), Deployment podinfo \(document 2\), VirtualService podinfo \(document 3\)/],
    ['another group', loc('Deployment', 'extensions/v1beta1'), /holds no Deployment podinfo \(extensions group\)/],
  ])('none: %s', (_name, l, message) => {
    expect(() => findObject(parseManifestFile('app.yaml', multi), l)).toThrow(message);
  });

  it('twice: both places named', () => {
    const text = 'apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\n';
    expect(() => findObject(parseManifestFile('s.yaml', text), loc('Service', 'v1', 'a')))
      .toThrow('s.yaml: document 2 (line 5): holds Service a (core group) 2 times, in document 1 (line 1) and document 2 (line 5)');
  });
});

describe('parseManifestFile', () => {
  it('a syntax error names the file, document and line', () => {
    const text = 'apiVersion: v1\nkind: Service\n---\nmetadata:\n  name: [a\nspec: {}\n';
    expect(() => parseManifestFile('bad.yaml', text)).toThrow(/^bad\.yaml: document 2 \(line \d+\): is not valid YAML: /);
    try {
      parseManifestFile('bad.yaml', text);
    } catch (e) {
      expect(e).toBeInstanceOf(ManifestError);
      expect((e as ManifestError).document).toBe(1);
    }
  });

  it('comment-only documents are kept (as null) so document numbers match the file', () => {
    const f = parseManifestFile('c.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: b}\n---\n# only a comment\n---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\n');
    expect(f.documents.map((d) => d.value)).toEqual([{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'b' } }, null, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a' } }]);
  });

  it('merge keys read as kubectl reads them', () => {
    const f = parseManifestFile('m.yaml', 'base: &b {a: 1}\nx:\n  <<: *b\n  c: 2\n');
    expect(f.documents[0]!.value).toEqual({ base: { a: 1 }, x: { a: 1, c: 2 } });
  });
});

it.each([['networking.istio.io/v1', 'networking.istio.io'], ['v1', ''], ['apps/v1', 'apps']])('groupOf(%s)', (v, g) => {
  expect(groupOf(v)).toBe(g);
});
