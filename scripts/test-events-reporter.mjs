/**
 * A node:test reporter that writes, one JSON object a line, the events
 * scripts/test-summary.ts reads (its ReporterEvent): starts, results with
 * skip reasons, and the closing counts. scripts/test.ts runs it next to the
 * spec reporter. Plain JavaScript: node 20 loads reporters before tsx's
 * hooks are in place, so a .ts reporter fails with ERR_UNKNOWN_FILE_EXTENSION.
 */
const KEPT = new Set(['test:start', 'test:pass', 'test:fail', 'test:diagnostic']);

export default async function* eventsReporter(source) {
  for await (const { type, data } of source) {
    if (!KEPT.has(type) || !data) continue;
    const e = {
      type,
      name: data.name,
      nesting: data.nesting,
      file: data.file,
      skip: data.skip,
      todo: data.todo,
      message: data.message,
      suite: data.details?.type === 'suite',
    };
    yield `${JSON.stringify(e)}\n`;
  }
}
