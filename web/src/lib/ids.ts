/** Ids the client chooses: message ids (8-64 of [A-Za-z0-9_.:-]) and new conversation ids. */

function randomHex(bytes: number): string {
  const buffer = new Uint8Array(bytes);
  // getRandomValues works outside secure contexts too (randomUUID does not).
  crypto.getRandomValues(buffer);
  return Array.from(buffer, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function newMessageId(): string {
  return `web-${randomHex(12)}`;
}

export function newConversationId(): string {
  return `c-${randomHex(8)}`;
}
