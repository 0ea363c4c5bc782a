/** A JSON array from stored JSON texts, joined without parsing them. */
export function joinJsonTexts(rows: ReadonlyArray<{ body: string }>): string {
  let out = '[';
  for (let i = 0; i < rows.length; i++) out += (i ? ',' : '') + rows[i]!.body;
  return out + ']';
}
