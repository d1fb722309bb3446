import { createContext, type ReactNode, useContext, useEffect, useMemo, useState } from "react";
import type { AppConfig } from "../config";
import { AuthClient, type SignedInUser } from "./session";

interface AuthValue {
  client: AuthClient;
  /** undefined while the stored session is being restored. */
  user: SignedInUser | null | undefined;
}

const AuthContext = createContext<AuthValue | null>(null);

export function AuthProvider({ config, children }: { config: AppConfig; children: ReactNode }) {
  const client = useMemo(() => new AuthClient(config), [config]);
  const [user, setUser] = useState<SignedInUser | null | undefined>(undefined);

  useEffect(() => {
    let live = true;
    const unsubscribe = client.subscribe((u) => live && setUser(u));
    void client.restore().then((u) => live && setUser(u));
    return () => {
      live = false;
      unsubscribe();
    };
  }, [client]);

  const value = useMemo(() => ({ client, user }), [client, user]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside AuthProvider");
  return value;
}
