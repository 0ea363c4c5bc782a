/**
 * A bounded excerpt of text a client sent, for an error message: what the
 * client sent is never echoed back whole (a 10 KB header or key would come
 * back 10 KB long). Cut text says how long the whole was.
 */
export function excerpt(text: string, max = 64): string {
  if (text.length <= max) return text;
  // Not in the middle of a surrogate pair: the message stays well-formed text.
  let end = max;
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return `${text.slice(0, end)}… (${text.length} characters)`;
}

/** `excerpt` in double quotes, with quotes and control characters escaped (JSON string form). */
export function quotedExcerpt(text: string, max = 64): string {
  if (text.length <= max) return JSON.stringify(text);
  const cut = excerpt(text, max);
  const at = cut.lastIndexOf('…');
  return `${JSON.stringify(cut.slice(0, at))}${cut.slice(at)}`;
}
