/** Limits and choices of each setting, read from the generated schema so they never drift. */
import schema from "../generated/contracts.schema.json";
import type { UserSettings } from "../generated/contracts";

interface PropSchema {
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  enum?: string[];
  anyOf?: PropSchema[];
  default?: unknown;
  description?: string;
}

const properties = schema.$defs.UserSettingsUpdate.properties as Record<string, PropSchema>;

function spec(name: keyof UserSettings): PropSchema {
  const prop = properties[name];
  if (!prop) throw new Error(`UserSettings has no field ${name}`);
  const variant = prop.anyOf?.find((v) => v.enum || v.maximum !== undefined || v.maxLength);
  return { ...variant, ...prop };
}

export function range(name: keyof UserSettings): { min?: number; max?: number } {
  const s = spec(name);
  return {
    ...(s.minimum !== undefined ? { min: s.minimum } : {}),
    ...(s.maximum !== undefined ? { max: s.maximum } : {}),
  };
}

export function choices(name: keyof UserSettings): string[] {
  return spec(name).enum ?? [];
}

export function maxLength(name: keyof UserSettings): number | undefined {
  return spec(name).maxLength;
}

export function defaults(): UserSettings {
  const out: Record<string, unknown> = {};
  for (const [key, prop] of Object.entries(properties)) out[key] = prop.default;
  return out as unknown as UserSettings;
}
