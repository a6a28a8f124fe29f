// Prints one plain closing line (on stderr, after Jest's own summary there), "N passed, N failed, N skipped", after Jest's own summary, so
// CI logs end with a count any tool can read.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const broken = results.numRuntimeErrorTestSuites;
    process.stderr.write(
      `\n${results.numPassedTests} passed, ${results.numFailedTests + broken} failed, ${results.numPendingTests + results.numTodoTests} skipped\n`,
    );
  }
}
module.exports = SummaryReporter;
