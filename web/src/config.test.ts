import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseConfig } from "./config";

const good = {
  region: "us-east-1",
  userPoolId: "us-east-1_abc",
  userPoolClientId: "client",
  wsUrl: "wss://ws.example.test/prod",
  httpUrl: "https://api.example.test/",
};

describe("config", () => {
  it("accepts a deployment config and trims the HTTP base", () => {
    expect(parseConfig(good)).toEqual({ ...good, httpUrl: "https://api.example.test" });
  });

  it("keeps the local Cognito endpoint when given", () => {
    const local = { ...good, cognitoEndpoint: "http://127.0.0.1:5123" };
    expect(parseConfig(local).cognitoEndpoint).toBe("http://127.0.0.1:5123");
  });

  it("defaults to SRP and accepts USER_PASSWORD_AUTH only as an explicit local choice", () => {
    expect(parseConfig(good).authFlow).toBeUndefined();
    expect(parseConfig({ ...good, authFlow: "USER_PASSWORD_AUTH" }).authFlow).toBe(
      "USER_PASSWORD_AUTH",
    );
    expect(() => parseConfig({ ...good, authFlow: "CUSTOM_AUTH" })).toThrow(/authFlow/);
  });

  it("names what is missing or malformed", () => {
    expect(() => parseConfig({ ...good, userPoolId: "" })).toThrow(/userPoolId/);
    expect(() => parseConfig({ ...good, wsUrl: "https://x" })).toThrow(/wsUrl/);
    expect(() => parseConfig([])).toThrow(ConfigError);
  });

  it("fetches config.json without the cache and reports HTTP failures", async () => {
    const seen: Array<[string, RequestInit | undefined]> = [];
    const ok = (async (url: string, init?: RequestInit) => {
      seen.push([url, init]);
      return new Response(JSON.stringify(good));
    }) as typeof fetch;
    await expect(loadConfig(ok)).resolves.toMatchObject({ region: "us-east-1" });
    expect(seen[0]).toEqual(["config.json", { cache: "no-store" }]);
    const missing = (async () => new Response("nope", { status: 404 })) as typeof fetch;
    await expect(loadConfig(missing)).rejects.toThrow(/HTTP 404/);
  });
});
