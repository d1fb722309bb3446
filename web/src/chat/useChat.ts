/**
 * Wires the socket, the reducer and the REST history together for the React tree.
 *
 * History of the conversation on screen is (re)loaded when it is opened and after every
 * reconnect, so replies that finished while the socket was down still show up.
 */
import { useCallback, useEffect, useReducer, useRef, useState } from "react";
import { ApiError, type ApiClient, allMessages } from "../api/client";
import type { AuthClient } from "../auth/session";
import { MAIN_CONVERSATION_ID, type ServerFrame } from "../generated/contracts";
import { newMessageId } from "../lib/ids";
import {
  type AgentState,
  NO_PROGRESS_MS,
  STALLED_REPLY_MS,
  chatReducer,
  initialChatState,
  isBusy,
  visibleMessages,
} from "./reducer";
import { ChatSocket, type ConnectionInfo } from "./socket";

/** How often the page asks for the agent's state while it is starting or stopping. */
export const STATUS_POLL_MS = 10_000;
/** How often unanswered questions are checked for a lack of progress. */
export const PROGRESS_CHECK_MS = 5_000;

export interface UseChatOptions {
  wsUrl: string;
  auth: AuthClient;
  api: ApiClient;
  conversationId: string;
  /** A frame that changes the conversation list (ack, reply start or end). */
  onActivity?: (frame: ServerFrame) => void;
  /**
   * Whether the conversation has stored messages: false when the conversation list says it
   * does not exist yet (nothing to load; asking would be a 404 in the console), null while
   * that is not known yet. Omitted: always load.
   */
  stored?: boolean | null;
}

export function useChat({
  wsUrl,
  auth,
  api,
  conversationId,
  onActivity,
  stored = true,
}: UseChatOptions) {
  const [state, dispatch] = useReducer(chatReducer, conversationId, initialChatState);
  const [connection, setConnection] = useState<ConnectionInfo>({ state: "idle", attempt: 0 });
  const [historyError, setHistoryError] = useState<string | null>(null);
  const [reconnects, setReconnects] = useState(0);
  const socketRef = useRef<ChatSocket | null>(null);
  const activityRef = useRef(onActivity);
  activityRef.current = onActivity;

  useEffect(() => {
    let wasOpen = false;
    const socket = new ChatSocket({
      url: wsUrl,
      getToken: (options) => auth.getIdToken(options),
      onFrame: (frame) => {
        dispatch({ type: "frame", frame, now: new Date().toISOString() });
        if (
          frame.type === "ack" ||
          frame.type === "message" ||
          frame.type === "stream_start" ||
          frame.type === "stream_end"
        ) {
          activityRef.current?.(frame);
        }
      },
      onConnection: (info) => {
        setConnection(info);
        if (info.state === "open") {
          if (wasOpen) setReconnects((n) => n + 1);
          wasOpen = true;
        }
      },
      onSignedOut: () => auth.signOut(),
    });
    socketRef.current = socket;
    socket.start();
    const retry = () => socket.reconnectNow();
    const onVisible = () => document.visibilityState === "visible" && socket.reconnectNow();
    window.addEventListener("online", retry);
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      window.removeEventListener("online", retry);
      document.removeEventListener("visibilitychange", onVisible);
      socket.stop();
      socketRef.current = null;
    };
  }, [wsUrl, auth]);

  // A status push can be lost (an agent that stopped before it reported, a failed post), so
  // while the agent is between states the page asks again now and then.
  const agentState = state.agent?.state;
  const transitional = agentState === "starting" || agentState === "stopping";
  useEffect(() => {
    if (!transitional) return;
    const timer = setInterval(() => socketRef.current?.requestStatus(), STATUS_POLL_MS);
    return () => clearInterval(timer);
  }, [transitional]);

  useEffect(() => {
    dispatch({ type: "open", conversationId });
  }, [conversationId]);

  // The page never waits forever: a question with no sign of progress for NO_PROGRESS_MS
  // (no ack, no phase change, no reply) shows an error with a retry button.
  useEffect(() => {
    const timer = setInterval(() => {
      const now = Date.now();
      dispatch({ type: "expire", before: now - NO_PROGRESS_MS, streamingBefore: now - STALLED_REPLY_MS });
    }, PROGRESS_CHECK_MS);
    return () => clearInterval(timer);
  }, []);

  // Read when loading, not a trigger: a conversation that gains its first stored message
  // while open is already complete on screen and reloads only after a reconnect.
  const storedRef = useRef(stored);
  storedRef.current = stored;
  const storedKnown = stored !== null;

  useEffect(() => {
    let live = true;
    setHistoryError(null);
    if (!storedKnown) return;
    if (!storedRef.current) {
      dispatch({ type: "history", conversationId, items: [] });
      return;
    }
    allMessages(api, conversationId)
      .then((items) => live && dispatch({ type: "history", conversationId, items }))
      .catch((error: unknown) => {
        if (!live) return;
        if (error instanceof ApiError && error.status === 404) {
          // A conversation that has no message yet (just created here).
          dispatch({ type: "history", conversationId, items: [] });
        } else {
          setHistoryError(error instanceof Error ? error.message : String(error));
        }
      });
    return () => {
      live = false;
    };
  }, [api, conversationId, reconnects, storedKnown]);

  const send = useCallback(
    (text: string) => {
      const id = newMessageId();
      dispatch({
        type: "sent",
        id,
        conversationId,
        text,
        createdAt: new Date().toISOString(),
      });
      // No conversationId means the main conversation (shared with Telegram).
      socketRef.current?.send(
        conversationId === MAIN_CONVERSATION_ID
          ? { action: "send", id, text }
          : { action: "send", id, conversationId, text },
      );
    },
    [conversationId],
  );

  /** Send the text of an unanswered (or failed) question again, as a new message. */
  const retry = useCallback(
    (id: string) => {
      const question = (state.messages[conversationId] ?? []).find(
        (m) => m.role === "user" && m.id === id,
      );
      if (question) send(question.text);
    },
    [state.messages, conversationId, send],
  );

  const abort = useCallback(() => {
    socketRef.current?.abort(conversationId === MAIN_CONVERSATION_ID ? undefined : conversationId);
  }, [conversationId]);

  const setAgent = useCallback((agent: AgentState, phase?: string | null) => {
    dispatch({ type: "agent", state: agent, phase: phase ?? null });
  }, []);

  return {
    state,
    messages: visibleMessages(state),
    busy: isBusy(state, conversationId),
    connection,
    historyError,
    send,
    retry,
    abort,
    setAgent,
    retryNow: () => socketRef.current?.reconnectNow(),
    forget: (id: string) => dispatch({ type: "forget", conversationId: id }),
    dismissError: () => dispatch({ type: "dismissError" }),
  };
}

export type ChatController = ReturnType<typeof useChat>;
