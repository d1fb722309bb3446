/**
 * Runtime configuration, read from `config.json` next to index.html so that one build serves
 * every deployment (the dev stack and the CDK web stack write the file).
 */
export interface AppConfig {
  region: string;
  userPoolId: string;
  userPoolClientId: string;
  wsUrl: string;
  httpUrl: string;
  /** Only locally: the embedded moto server standing in for Cognito. */
  cognitoEndpoint?: string;
  /**
   * Only locally, optional: moto answers SRP with the user's `sub` as USER_ID_FOR_SRP and then
   * cannot find a user of a pool with plain usernames, and it never checks SRP proofs at all.
   * A dev stack may ask for USER_PASSWORD_AUTH instead (the deployed client allows SRP only).
   */
  authFlow?: AuthFlow;
}

export type AuthFlow = "USER_SRP_AUTH" | "USER_PASSWORD_AUTH";

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const REQUIRED = ["region", "userPoolId", "userPoolClientId", "wsUrl", "httpUrl"] as const;

export function parseConfig(value: unknown): AppConfig {
  if (typeof value !== "object" || value === null) {
    throw new ConfigError("config.json is not a JSON object");
  }
  const record = value as Record<string, unknown>;
  const missing = REQUIRED.filter((k) => typeof record[k] !== "string" || record[k] === "");
  if (missing.length) throw new ConfigError(`config.json lacks ${missing.join(", ")}`);
  const ws = String(record.wsUrl);
  if (!/^wss?:\/\//.test(ws)) throw new ConfigError("wsUrl must start with ws:// or wss://");
  const http = String(record.httpUrl);
  if (!/^https?:\/\//.test(http)) throw new ConfigError("httpUrl must start with http(s)://");
  const endpoint = record.cognitoEndpoint;
  if (endpoint !== undefined && endpoint !== null && typeof endpoint !== "string") {
    throw new ConfigError("cognitoEndpoint must be a string");
  }
  const flow = record.authFlow;
  if (flow !== undefined && flow !== null && flow !== "USER_SRP_AUTH" && flow !== "USER_PASSWORD_AUTH") {
    throw new ConfigError("authFlow must be USER_SRP_AUTH or USER_PASSWORD_AUTH");
  }
  return {
    region: String(record.region),
    userPoolId: String(record.userPoolId),
    userPoolClientId: String(record.userPoolClientId),
    wsUrl: ws,
    httpUrl: http.replace(/\/+$/, ""),
    ...(typeof endpoint === "string" && endpoint ? { cognitoEndpoint: endpoint } : {}),
    ...(flow ? { authFlow: flow } : {}),
  };
}

export async function loadConfig(
  fetchFn: typeof fetch = fetch,
  url = "config.json",
): Promise<AppConfig> {
  let response: Response;
  try {
    response = await fetchFn(url, { cache: "no-store" });
  } catch (error) {
    throw new ConfigError(`config.json could not be fetched: ${String(error)}`);
  }
  if (!response.ok) throw new ConfigError(`config.json: HTTP ${response.status}`);
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw new ConfigError("config.json is not valid JSON");
  }
  return parseConfig(body);
}
