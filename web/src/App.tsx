import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ApiClient } from "./api/client";
import { AuthProvider, useAuth } from "./auth/AuthContext";
import type { AuthClient, SignedInUser } from "./auth/session";
import { useChat } from "./chat/useChat";
import { AgentPanel } from "./components/AgentPanel";
import { ChatView } from "./components/ChatView";
import { ConversationList } from "./components/ConversationList";
import { SettingsPanel } from "./components/SettingsPanel";
import { SignIn } from "./components/SignIn";
import { StatusBanner } from "./components/StatusBanner";
import { TelegramPanel } from "./components/TelegramPanel";
import { type AppConfig, loadConfig } from "./config";
import { type Conversation, MAIN_CONVERSATION_ID } from "./generated/contracts";
import { newConversationId } from "./lib/ids";
import { type Route, lastConversation, useRoute } from "./lib/route";

const PAGE_SIZE = 50;

export function App() {
  const [config, setConfig] = useState<AppConfig | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    loadConfig().then(setConfig, (e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, []);
  if (error) {
    return (
      <main className="signin">
        <div className="signin-card" role="alert">
          <h1>Not configured</h1>
          <p>{error}</p>
          <p className="muted">
            The page reads <code>config.json</code> next to <code>index.html</code>; the dev stack
            and the deployment write it.
          </p>
        </div>
      </main>
    );
  }
  if (!config) return <p className="loading">Loading…</p>;
  return (
    <AuthProvider config={config}>
      <Gate config={config} />
    </AuthProvider>
  );
}

function Gate({ config }: { config: AppConfig }) {
  const { user, client } = useAuth();
  if (user === undefined) return <p className="loading">Loading…</p>;
  if (!user) return <SignIn />;
  return <Workspace key={user.username} config={config} auth={client} user={user} />;
}

function byRecency(a: Conversation, b: Conversation): number {
  return Date.parse(b.updatedAt) - Date.parse(a.updatedAt);
}

function placeholder(id: string, title: string): Conversation {
  const now = new Date().toISOString();
  return { id, title, createdAt: now, updatedAt: now };
}

const NAV: Array<{ route: Route; label: string }> = [
  { route: { view: "chat", conversationId: MAIN_CONVERSATION_ID }, label: "Chat" },
  { route: { view: "settings" }, label: "Settings" },
  { route: { view: "telegram" }, label: "Telegram" },
  { route: { view: "agent" }, label: "Agent" },
];

function Workspace({
  config,
  auth,
  user,
}: {
  config: AppConfig;
  auth: AuthClient;
  user: SignedInUser;
}) {
  const api = useMemo(
    () =>
      new ApiClient({
        baseUrl: config.httpUrl,
        getToken: (options) => auth.getIdToken(options),
        onUnauthorized: () => auth.signOut(),
      }),
    [config.httpUrl, auth],
  );
  const [route, navigate] = useRoute();
  const [conversationId, setConversationId] = useState(() =>
    lastConversation(route, MAIN_CONVERSATION_ID),
  );
  useEffect(() => setConversationId((prev) => lastConversation(route, prev)), [route]);

  const [stored, setStored] = useState<Conversation[]>([]);
  const [drafts, setDrafts] = useState<Conversation[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [listLoaded, setListLoaded] = useState(false);
  const [listError, setListError] = useState<string | null>(null);
  const [sidebarOpen, setSidebarOpen] = useState(false);
  const toggleRef = useRef<HTMLButtonElement>(null);

  // The drawer (phone-sized screens): focus moves into it, Escape closes it and goes back.
  useEffect(() => {
    if (!sidebarOpen) return;
    const current = document.querySelector<HTMLElement>(
      "#sidebar [aria-current='page'], #sidebar button",
    );
    current?.focus();
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") {
        setSidebarOpen(false);
        toggleRef.current?.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [sidebarOpen]);

  const loadList = useCallback(async () => {
    try {
      const page = await api.listConversations({ limit: PAGE_SIZE });
      setStored(page.items);
      setCursor(page.nextCursor ?? null);
      setListError(null);
      const known = new Set(page.items.map((c) => c.id));
      setDrafts((d) => d.filter((c) => !known.has(c.id)));
    } catch (e) {
      setListError(`Conversations could not be loaded: ${e instanceof Error ? e.message : e}`);
    } finally {
      setListLoaded(true);
    }
  }, [api]);

  const loadMore = async () => {
    if (!cursor) return;
    try {
      const page = await api.listConversations({ limit: PAGE_SIZE, cursor });
      setStored((s) => [...s, ...page.items.filter((c) => !s.some((x) => x.id === c.id))]);
      setCursor(page.nextCursor ?? null);
    } catch (e) {
      setListError(e instanceof Error ? e.message : String(e));
    }
  };

  useEffect(() => {
    void loadList();
  }, [loadList]);

  // Titles and recency change when a message is queued or a reply ends; coalesce bursts.
  const refreshTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const onActivity = useCallback(() => {
    if (refreshTimer.current) clearTimeout(refreshTimer.current);
    refreshTimer.current = setTimeout(() => void loadList(), 400);
  }, [loadList]);
  useEffect(
    () => () => {
      if (refreshTimer.current) clearTimeout(refreshTimer.current);
    },
    [],
  );

  // A conversation the list does not know (a new one, or "main" before its first message)
  // has no stored messages yet. Unknown when the list failed or has more pages: load anyway.
  const storedHistory = !listLoaded
    ? null
    : listError !== null || cursor !== null || stored.some((c) => c.id === conversationId);
  const chat = useChat({
    wsUrl: config.wsUrl,
    auth,
    api,
    conversationId,
    onActivity,
    stored: storedHistory,
  });

  const conversations = useMemo(() => {
    const list = [...stored];
    for (const draft of drafts) if (!list.some((c) => c.id === draft.id)) list.push(draft);
    if (!list.some((c) => c.id === MAIN_CONVERSATION_ID)) {
      list.push(placeholder(MAIN_CONVERSATION_ID, "Main"));
    }
    if (!list.some((c) => c.id === conversationId)) {
      list.push(placeholder(conversationId, "New conversation"));
    }
    return list.sort(byRecency);
  }, [stored, drafts, conversationId]);

  const open = (id: string) => {
    navigate({ view: "chat", conversationId: id });
    setSidebarOpen(false);
  };

  const startNew = () => {
    const id = newConversationId();
    setDrafts((d) => [placeholder(id, "New conversation"), ...d]);
    open(id);
  };

  const remove = async (id: string) => {
    try {
      await api.deleteConversation(id);
    } catch (e) {
      setListError(`Could not delete: ${e instanceof Error ? e.message : e}`);
      return;
    }
    setStored((s) => s.filter((c) => c.id !== id));
    setDrafts((d) => d.filter((c) => c.id !== id));
    chat.forget(id);
    if (id === conversationId) open(MAIN_CONVERSATION_ID);
  };

  const title = conversations.find((c) => c.id === conversationId)?.title ?? "Conversation";
  const loading = !chat.state.loaded[conversationId];

  return (
    <div className={`app ${sidebarOpen ? "sidebar-open" : ""}`}>
      <header className="topbar">
        {route.view === "chat" ? (
          <button
            type="button"
            ref={toggleRef}
            className="icon-button sidebar-toggle"
            aria-expanded={sidebarOpen}
            aria-controls="sidebar"
            onClick={() => setSidebarOpen((v) => !v)}
          >
            <span aria-hidden="true">☰</span>
            <span className="visually-hidden">Conversations</span>
          </button>
        ) : null}
        <h1 className="brand">OpenClaw</h1>
        <nav className="tabs" aria-label="Sections">
          {NAV.map((item) => {
            const active = item.route.view === route.view;
            const target =
              item.route.view === "chat" ? { view: "chat" as const, conversationId } : item.route;
            return (
              <a
                key={item.label}
                href={item.route.view === "chat" ? `#/c/${conversationId}` : `#/${item.route.view}`}
                aria-current={active ? "page" : undefined}
                onClick={(e) => {
                  e.preventDefault();
                  navigate(target);
                }}
              >
                {item.label}
              </a>
            );
          })}
        </nav>
        <div className="account">
          <span className="username" title={user.email ?? user.username}>
            {user.email ?? user.username}
          </span>
          <button
            type="button"
            className="button secondary small"
            onClick={() => auth.signOut()}
            data-testid="sign-out"
          >
            Sign out
          </button>
        </div>
      </header>
      <StatusBanner
        agent={chat.state.agent}
        connection={chat.connection}
        onRetry={chat.retryNow}
      />
      {chat.state.lastError ? (
        <div className="notice warn toast" role="alert" data-testid="chat-error">
          <span>
            {chat.state.lastError.message} ({chat.state.lastError.code})
          </span>
          <button type="button" className="link-button" onClick={chat.dismissError}>
            Dismiss
          </button>
        </div>
      ) : null}
      <div className="layout">
        {route.view === "chat" ? (
          <>
            <aside id="sidebar" className="sidebar">
              <ConversationList
                conversations={conversations}
                current={conversationId}
                unread={chat.state.unread}
                hasMore={cursor !== null}
                error={listError}
                onOpen={open}
                onNew={startNew}
                onDelete={(id) => void remove(id)}
                onMore={() => void loadMore()}
              />
            </aside>
            {sidebarOpen ? (
              <button
                type="button"
                className="scrim"
                aria-label="Close conversations"
                onClick={() => setSidebarOpen(false)}
              />
            ) : null}
            <ChatView
              title={title}
              messages={chat.messages}
              loading={loading}
              busy={chat.busy}
              historyError={chat.historyError}
              onSend={chat.send}
              onRetry={chat.retry}
              onStop={chat.abort}
            />
          </>
        ) : null}
        {route.view === "settings" ? <SettingsPanel api={api} /> : null}
        {route.view === "telegram" ? <TelegramPanel api={api} /> : null}
        {route.view === "agent" ? (
          <AgentPanel api={api} liveState={chat.state.agent?.state} onState={chat.setAgent} />
        ) : null}
      </div>
    </div>
  );
}
