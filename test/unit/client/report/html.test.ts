import * as fs from 'node:fs';
import * as path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import type { HistoryEvent } from '../../../../src/client/history';
import { collectReport } from '../../../../src/client/report/collect';
import { reportHtml } from '../../../../src/client/report/html';

const DIR = path.resolve(__dirname, '../../../fixtures/histories');
const recorded = (file: string): HistoryEvent[] => historyFromJSON(JSON.parse(fs.readFileSync(path.join(DIR, `${file}.json`), 'utf8'))).events ?? [];
const count = (html: string, re: RegExp) => html.match(new RegExp(re.source, 'g'))?.length ?? 0;

describe('reportHtml', () => {
  it('escapes every string from the history: a reason, a name, a step description', () => {
    const d = collectReport([recorded('cli-abort-signal')]);
    d.reason = 'aborted by <script>alert(1)</script>';
    d.actions.push({ at: d.startedAt!, event: 'abort', via: 'signal', by: '"><img src=x onerror=alert(2)>', reason: "<b>it's</b> & more", accepted: true });
    d.steps[0]!.description = '</td><script>x()</script>';
    const html = reportHtml(d, { temporalUiUrl: 'http://ui/namespaces/default/workflows/"x"' });
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).toContain('aborted by &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
    expect(html).toContain('&lt;b&gt;it&#39;s&lt;/b&gt; &amp; more');
    expect(html).toContain('href="http://ui/namespaces/default/workflows/&quot;x&quot;"');
  });

  it('is self-contained: no script, no stylesheet, image or font from anywhere', () => {
    const html = reportHtml(collectReport([recorded('sequential-judge-rollback')]), { temporalUiUrl: 'http://127.0.0.1:8233/x' });
    expect(html).not.toMatch(/<script|<link|<img|src=|url\(|@import/i);
    // The only address is the link to the Temporal UI, which a reader follows by choice.
    expect(html.match(/https?:\/\/[^"<\s]+/g)).toEqual(['http://127.0.0.1:8233/x', 'http://127.0.0.1:8233/x']);
  });

  it('draws one point per look with data on each chart of a judged analysis, and a row per step of the spec', () => {
    const d = collectReport([recorded('sequential-judge-rollback')]);
    const html = reportHtml(d);
    const looks = d.analyses[0]!.looks.length;
    expect(looks).toBe(13);
    const chartOf = (id: string) => html.slice(html.indexOf(`data-chart="${id}"`), html.indexOf('</figure>', html.indexOf(`data-chart="${id}"`)));
    // The reference look has counted no request yet: it has no share to draw.
    const counted = d.analyses[0]!.looks.filter((l) => l.judge?.evidence?.kind === 'sequential' && l.judge.evidence.e.errors.canary.requests > 0).length;
    expect(counted).toBe(looks - 1);
    expect(count(chartOf('analysis-0-errors-share'), /<circle class="pt" data-series="canary"/)).toBe(counted);
    expect(count(chartOf('analysis-0-errors-share'), /<circle class="pt" data-series="baseline"/)).toBe(counted);
    expect(count(chartOf('analysis-0-evalues'), /<circle class="pt" data-series="errors e-value \(roll back\)"/)).toBe(looks);
    expect(chartOf('analysis-0-evalues')).toContain('data-hline="roll back at e ≥ 20 (α 0.05)"');
    expect(chartOf('analysis-0-errors-ratio')).toContain('data-hline="no worse than 1 + δ = 1.5"');
    expect(chartOf('analysis-0-errors-ratio')).toContain('<polygon class="band" data-band="confidence bounds"');
    expect(chartOf('analysis-0-tail-share')).not.toBe('');
    expect(count(chartOf('timeline'), /<circle class="pt" data-series="canary weight"/)).toBe(d.weights.length);
    expect(count(html, /<tr data-step="/)).toBe(3);
    expect(html).toContain('<span class="outcome bad" id="outcome">RolledBack</span>');
  });

  it('a rollout with no analysis says so; a refused signal is marked as changing nothing', () => {
    const html = reportHtml(collectReport([recorded('cli-abort-signal')]));
    expect(html).toContain('No analysis ran.');
    expect(html).toContain('<tr data-event="abort" class="refused">');
    expect(html).toContain('signal — refused, nothing changed');
  });
});
