/**
 * A live view at the bottom of a terminal, redrawn in place. Every line is cut to the terminal's
 * width so that one line is one row: the view then knows exactly how many rows it drew, and a
 * redraw erases those rows and no others. Why width is measured here and not by a library:
 * docs/decisions/0020-live-view.md.
 */
import { stripVTControlCharacters } from 'node:util';

/** Columns a line may use: one less than the terminal's, so no terminal wraps at the last column. */
const MARGIN = 1;
const ELLIPSIS = '…';
/** Used when the stream does not know its size (not a terminal). */
const DEFAULT_SIZE: Size = { columns: 80, rows: 24 };

export interface Size {
  /** Terminal width in columns. */
  columns: number;
  /** Terminal height in rows. */
  rows: number;
}

const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' });
const zeroWidth = /^[\p{Cc}\p{Cf}\p{Mn}\p{Me}]+$/u;
/** Emoji shown as pictures by default, or turned into pictures by the variation selector U+FE0F. */
const emoji = /\p{Emoji_Presentation}|\uFE0F/u;

/** East Asian Wide and Fullwidth blocks (Unicode's EastAsianWidth.txt, the ranges a terminal shows two columns wide). */
const WIDE: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f], [0x231a, 0x231b], [0x2329, 0x232a], [0x2e80, 0x303e], [0x3041, 0x33ff],
  [0x3400, 0x4dbf], [0x4e00, 0x9fff], [0xa000, 0xa4cf], [0xa960, 0xa97f], [0xac00, 0xd7a3],
  [0xf900, 0xfaff], [0xfe10, 0xfe19], [0xfe30, 0xfe6f], [0xff00, 0xff60], [0xffe0, 0xffe6],
  [0x16fe0, 0x16fe4], [0x17000, 0x18cff], [0x1b000, 0x1b2ff], [0x1f200, 0x1f2ff],
  [0x20000, 0x2fffd], [0x30000, 0x3fffd],
];

function isWide(cp: number): boolean {
  return WIDE.some(([lo, hi]) => cp >= lo && cp <= hi);
}

/**
 * Columns one grapheme (what a person sees as one character) takes: 0 for control and combining
 * characters alone, 2 for wide and emoji ones, else 1. Ambiguous-width characters — the arrows,
 * block bars, ✔ ✘ × — count 1, as terminals outside CJK locales draw them.
 */
function graphemeWidth(g: string): number {
  if (zeroWidth.test(g)) return 0;
  return isWide(g.codePointAt(0)!) || emoji.test(g) ? 2 : 1;
}

/** How many terminal columns `text` takes (escape sequences take none). */
export function displayWidth(text: string): number {
  let w = 0;
  for (const { segment } of graphemes.segment(stripVTControlCharacters(text))) w += graphemeWidth(segment);
  return w;
}

/** `line` cut to at most `columns` columns, with an ellipsis where it was cut; never splits a character. */
export function fitLine(line: string, columns: number): string {
  if (columns <= 0) return '';
  if (displayWidth(line) <= columns) return line;
  let out = '';
  let w = 0;
  for (const { segment } of graphemes.segment(line)) {
    const gw = graphemeWidth(segment);
    if (w + gw > columns - 1) break;
    out += segment;
    w += gw;
  }
  return out + ELLIPSIS;
}

/**
 * A frame as it will be drawn: one row per line. Newlines split lines, tabs become a space and
 * other control characters (escape sequences included) go, because any of them would move the
 * cursor behind the view's back; lines are cut to the width; a frame taller than the terminal
 * ends with a line saying how much is hidden, since rows scrolled off the top cannot be erased.
 */
export function fitFrame(lines: readonly string[], size: Size): string[] {
  const columns = Math.max(1, size.columns - MARGIN);
  const clean = lines
    .flatMap((l) => l.split(/\r?\n/))
    .map((l) => stripVTControlCharacters(l).replace(/\t/g, ' ').replace(/\p{Cc}/gu, ''));
  const room = Math.max(1, size.rows - 1);
  const shown = clean.length > room
    ? [...clean.slice(0, room - 1), `… ${clean.length - room + 1} more lines: a taller terminal shows them`]
    : clean;
  return shown.map((l) => fitLine(l, columns));
}

const up = (n: number) => (n > 0 ? `\x1b[${n}A` : '');
const ERASE_DOWN = '\x1b[J';
const HOME_AND_CLEAR = '\x1b[H\x1b[2J';
export const HIDE_CURSOR = '\x1b[?25l';
export const SHOW_CURSOR = '\x1b[?25h';

/**
 * What to write to turn the frame on screen (`prev`, with the cursor at the start of the row below
 * it) into `next`: nothing when they are equal; else rewrite from the first line that differs,
 * erasing the rows below it. `clear` starts again from the top of a cleared screen — for a
 * terminal that became narrower, whose old rows may have been rewrapped into more rows than drawn.
 */
export function redraw(prev: readonly string[], next: readonly string[], clear = false): string | undefined {
  const rows = (lines: readonly string[]) => lines.map((l) => `${l}\n`).join('');
  if (clear) return HOME_AND_CLEAR + rows(next);
  let same = 0;
  while (same < prev.length && same < next.length && prev[same] === next[same]) same++;
  if (same === prev.length && same === next.length) return undefined;
  if (prev.length === 0) return rows(next);
  return `${up(prev.length - same)}\r${ERASE_DOWN}${rows(next.slice(same))}`;
}

/** The terminal the view draws on: process.stdout, or a stand-in in tests. */
export interface Terminal {
  columns?: number;
  rows?: number;
  write(text: string): unknown;
  on(event: 'resize', listener: () => void): unknown;
  off(event: 'resize', listener: () => void): unknown;
}

/**
 * The live view: `show(lines)` draws a frame, `stop()` leaves the last one on screen and gives the
 * terminal back as it was (cursor shown, resize listener gone). The cursor is hidden while the view
 * lives so it does not flicker across the rows being redrawn; an exit handler shows it again if
 * the process ends without stop().
 */
export class LiveView {
  private drawn: string[] = [];
  private wanted: string[] = [];
  private drawnColumns?: number;
  private narrowed = false;
  private started = false;
  private stopped = false;
  private readonly onResize = () => {
    // Narrower, even for a moment: the terminal may have rewrapped rows it holds.
    if (this.drawnColumns !== undefined && (this.term.columns ?? DEFAULT_SIZE.columns) < this.drawnColumns) this.narrowed = true;
    this.paint();
  };
  private readonly onExit = () => this.term.write(SHOW_CURSOR);

  constructor(private readonly term: Terminal = process.stdout) {}

  /** Shows `lines` as the view's frame; writes nothing when the frame on screen is already that. */
  show(lines: readonly string[]): void {
    if (this.stopped) return;
    this.wanted = [...lines];
    if (!this.started) {
      this.started = true;
      this.term.write(HIDE_CURSOR);
      this.term.on('resize', this.onResize);
      process.once('exit', this.onExit);
    }
    this.paint();
  }

  /** Ends the view: its last frame stays, later output goes below it, the cursor is visible again. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (!this.started) return;
    this.term.off('resize', this.onResize);
    process.off('exit', this.onExit);
    this.term.write(SHOW_CURSOR);
  }

  private paint(): void {
    if (this.stopped) return;
    const size = { columns: this.term.columns ?? DEFAULT_SIZE.columns, rows: this.term.rows ?? DEFAULT_SIZE.rows };
    const next = fitFrame(this.wanted, size);
    const bytes = redraw(this.drawn, next, this.narrowed);
    this.narrowed = false;
    this.drawnColumns = size.columns;
    if (bytes === undefined) return;
    this.term.write(bytes);
    this.drawn = next;
  }
}
