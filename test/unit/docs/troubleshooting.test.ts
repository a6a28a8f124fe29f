/**
 * docs/troubleshooting.md quotes Ramp's messages so people can search for what they see; a quote
 * that no longer matches the code sends them nowhere. Each quoted message (a code span in a bold
 * heading, `…` where the message names the user's objects) must appear, piece by piece, in src/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [fs.readFileSync(p, 'utf8')] : [];
  });
}

/** The quoted messages of the page: code spans inside `**…**` headings. */
export function quotedMessages(markdown: string): string[] {
  const headings = [...markdown.matchAll(/^\*\*(.+)\*\*/gm)].map((m) => m[1]!);
  return headings.flatMap((h) => [...h.matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
}

/** The literal pieces of a message: split at `…`, ends trimmed of spaces and punctuation, short ones dropped. */
export function literalPieces(message: string): string[] {
  return message.split('…').map((p) => p.replace(/^[\s;:,()]+|[\s;:,()]+$/g, '')).filter((p) => p.length >= 8);
}

describe('literalPieces', () => {
  it.each([
    ['… has ended (…, outcome …); nothing to …', ['has ended', 'nothing to']],
    ['cannot reach Temporal at …: … — set --address', ['cannot reach Temporal at', '— set --address']],
    ['to fix by hand: …', ['to fix by hand']],
    ['…, phase …)', []],
  ])('%s', (message, pieces) => expect(literalPieces(message)).toEqual(pieces));
});

describe('docs/troubleshooting.md quotes messages the code prints', () => {
  const page = fs.readFileSync(path.join(ROOT, 'docs/troubleshooting.md'), 'utf8');
  const code = sources(path.join(ROOT, 'src')).join('\n');
  const messages = quotedMessages(page);

  it('quotes a dozen messages or more', () => {
    expect(messages.length).toBeGreaterThanOrEqual(12);
  });

  it.each(messages.map((m) => [m]))('%s', (message) => {
    const pieces = literalPieces(message);
    expect(pieces.length).toBeGreaterThan(0);
    expect(pieces.filter((p) => !code.includes(p))).toEqual([]);
  });
});
