import { displayWidth, fitFrame, fitLine, HIDE_CURSOR, LiveView, redraw, SHOW_CURSOR, Terminal } from '../../../../src/client/cli/live';
import { weightBar } from '../../../../src/client/cli/render';

describe('displayWidth', () => {
  it.each([
    ['', 0],
    ['Phase      Paused', 17],
    ['✔ Promoted', 10],
    ['✘ RolledBack', 12],
    ['stable → canary', 15],
    ['ratio 1.2× [0.9, 1.5] — e-value ≥ 20 (α 0.05)', 45],
    ['█████░░░░░', 10],
    [weightBar(50), 22],
    ['\x1b[31mred\x1b[0m', 3],
    ['e\u0301', 1], // e + combining acute: one character
    ['日本語', 6],
    ['ｆｕｌｌ', 8],
    ['🚀 go', 5],
    ['❤️', 2], // text heart turned emoji by U+FE0F
    ['a\u200bb', 2], // zero-width space
  ])('%j is %i columns', (text, width) => {
    expect(displayWidth(text)).toBe(width);
  });
});

describe('fitLine', () => {
  it.each([
    ['short', 10, 'short'],
    ['exactly ten', 11, 'exactly ten'],
    ['exactly ten', 10, 'exactly t…'],
    ['✔ set weight: canary 100%', 8, '✔ set w…'],
    ['日本語です', 5, '日本…'], // a wide character never straddles the edge
    ['日本語です', 6, '日本…'],
    ['e\u0301e\u0301e\u0301', 2, 'e\u0301…'],
    ['anything', 1, '…'],
    ['anything', 0, ''],
  ])('%j in %i columns is %j', (line, columns, fitted) => {
    expect(fitLine(line, columns)).toBe(fitted);
    expect(displayWidth(fitLine(line, columns))).toBeLessThanOrEqual(columns);
  });
});

describe('fitFrame', () => {
  const long = `Analysis   Inconclusive (judge) — ${'x'.repeat(140)}`;
  it.each([
    ['cuts every line one column short of the width', [long, 'Phase      Paused'], { columns: 80, rows: 40 }, [`${long.slice(0, 78)}…`, 'Phase      Paused']],
    ['splits lines at newlines', ['Now        one\ntwo'], { columns: 80, rows: 40 }, ['Now        one', 'two']],
    ['drops escape and control characters, tabs become spaces', ['\x1b[2Ka\tb\x07c'], { columns: 80, rows: 40 }, ['a bc']],
    ['says what a short terminal hides', ['1', '2', '3', '4', '5'], { columns: 80, rows: 4 }, ['1', '2', '… 3 more lines: a taller terminal shows them']],
    ['keeps a frame that fits', ['1', '2', '3'], { columns: 80, rows: 4 }, ['1', '2', '3']],
  ])('%s', (_what, lines, size, frame) => {
    expect(fitFrame(lines, size)).toEqual(frame);
  });
});

describe('redraw', () => {
  it.each([
    ['first frame: just the lines', [], ['a', 'b'], false, 'a\nb\n'],
    ['nothing changed: writes nothing', ['a', 'b'], ['a', 'b'], false, undefined],
    ['last line changed: up one, erase, rewrite it', ['a', 'b'], ['a', 'c'], false, '\x1b[1A\r\x1b[Jc\n'],
    ['first line changed: everything', ['a', 'b'], ['x', 'b'], false, '\x1b[2A\r\x1b[Jx\nb\n'],
    ['a line added: no move, write the new one', ['a'], ['a', 'b'], false, '\r\x1b[Jb\n'],
    ['a line gone: up, erase the leftover row', ['a', 'b', 'c'], ['a', 'b'], false, '\x1b[1A\r\x1b[J'],
    ['narrowed: clear the screen, draw from the top', ['a', 'b'], ['a', 'b'], true, '\x1b[H\x1b[2Ja\nb\n'],
  ])('%s', (_what, prev, next, clear, bytes) => {
    expect(redraw(prev, next, clear)).toBe(bytes);
  });
});

/** A terminal that keeps what was written, and can be resized. */
function fakeTerminal(columns: number, rows = 40) {
  const listeners: (() => void)[] = [];
  const written: string[] = [];
  const term: Terminal & { written: string[]; resize(c: number): void } = {
    columns, rows, written,
    write: (t: string) => written.push(t),
    on: (_e: 'resize', l: () => void) => listeners.push(l),
    off: (_e: 'resize', l: () => void) => listeners.splice(listeners.indexOf(l), 1),
    resize(c: number) {
      term.columns = c;
      for (const l of [...listeners]) l();
    },
  };
  return term;
}

describe('LiveView', () => {
  it('hides the cursor, redraws only changes, clears on narrowing, and gives the terminal back', () => {
    const term = fakeTerminal(40);
    const view = new LiveView(term);
    view.show(['Phase      Progressing', 'Weights    10%']);
    view.show(['Phase      Progressing', 'Weights    10%']);
    view.show(['Phase      Paused', 'Weights    10%']);
    term.resize(60); // wider: the rows on screen are intact, nothing to redraw
    term.resize(20);
    view.stop();
    term.resize(10); // after stop the view no longer listens
    view.show(['ignored']);
    expect(term.written).toEqual([
      HIDE_CURSOR,
      'Phase      Progressing\nWeights    10%\n',
      '\x1b[2A\r\x1b[JPhase      Paused\nWeights    10%\n',
      '\x1b[H\x1b[2JPhase      Paused\nWeights    10%\n',
      SHOW_CURSOR,
    ]);
  });

  it('a narrower terminal cuts the lines of the frame it redraws', () => {
    const term = fakeTerminal(80);
    const view = new LiveView(term);
    view.show(['Waiting    approval since 2026-11-26T10:00:00.000Z — ramp approve mushop/storefront']);
    term.resize(30);
    view.stop();
    expect(term.written[2]).toBe('\x1b[H\x1b[2JWaiting    approval since 20…\n');
  });

  it('stop() before anything was shown writes nothing', () => {
    const term = fakeTerminal(80);
    new LiveView(term).stop();
    expect(term.written).toEqual([]);
  });
});
