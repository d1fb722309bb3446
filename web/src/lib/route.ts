/** The screen in the URL hash, so a reload reopens the same conversation or panel. */
import { useCallback, useEffect, useState } from "react";
import { MAIN_CONVERSATION_ID } from "../generated/contracts";

export type Route =
  | { view: "chat"; conversationId: string }
  | { view: "settings" }
  | { view: "telegram" }
  | { view: "agent" };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#\/?/, "");
  const [head, arg] = path.split("/");
  if (head === "settings" || head === "telegram" || head === "agent") return { view: head };
  if (head === "c" && arg && /^[A-Za-z0-9_-]{1,64}$/.test(arg)) {
    return { view: "chat", conversationId: arg };
  }
  return { view: "chat", conversationId: MAIN_CONVERSATION_ID };
}

export function routeHash(route: Route): string {
  return route.view === "chat" ? `#/c/${route.conversationId}` : `#/${route.view}`;
}

export function useRoute(): [Route, (route: Route) => void] {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  const navigate = useCallback((next: Route) => {
    const hash = routeHash(next);
    if (window.location.hash !== hash) window.location.hash = hash;
    setRoute(next);
  }, []);
  return [route, navigate];
}

/** The last chat conversation stays selected while a panel is open. */
export function lastConversation(route: Route, previous: string): string {
  return route.view === "chat" ? route.conversationId : previous;
}
