// What survives a reload: the visitor's user id with the secret of one of their sessions (the proof the API asks for
// to resume that person), their current session id and that session's secret (without it the session cannot be read
// back). localStorage can be unavailable (private modes, blocked storage); the page then still works, it just cannot
// resume.

const pageParams = new URLSearchParams(window.location.search);

/** The study the page was opened for (its link, /?study={slug}), or null for the most recently opened one. */
export const pageStudy = pageParams.get("study") || null;

/** The study's pilot token, when the page was opened with a researcher's pilot link (/?study={slug}&pilot={token}). */
export const pilotToken = pageParams.get("pilot") || null;

/** "pilot" for a pilot link (a researcher's trial run, numbered "Pilot #N"), else "live". */
export const pageMode = pilotToken ? "pilot" : "live";

// A pilot run in the same browser is another person: it must not resume (or reuse the number of) a live visitor.
const PREFIX = pageMode === "pilot" ? "mindjourney.pilot." : "mindjourney.";
const USER_KEY = `${PREFIX}userId`;
const SESSION_KEY = `${PREFIX}sessionId`;
const SECRET_KEY = `${PREFIX}sessionSecret`;
const USER_SECRET_KEY = `${PREFIX}userSecret`;

function read(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

function write(key, value) {
  try {
    if (value === null || value === undefined) {
      window.localStorage.removeItem(key);
    } else {
      window.localStorage.setItem(key, value);
    }
  } catch {
    // Storage blocked or full: nothing to resume later, nothing else breaks.
  }
}

export const visitorStore = {
  get userId() {
    return read(USER_KEY);
  },
  get sessionId() {
    return read(SESSION_KEY);
  },
  get sessionSecret() {
    return read(SECRET_KEY);
  },
  /** Proof of being the kept user: a secret of any of their sessions (a page kept before there was one: its session's). */
  get userSecret() {
    return read(USER_SECRET_KEY) ?? read(SECRET_KEY);
  },
  /** The secret comes only with a session's start; later answers about the same session carry none. */
  remember(session) {
    if (session.userId !== read(USER_KEY)) {
      write(USER_SECRET_KEY, null);
    }
    write(USER_KEY, session.userId);
    if (session.sessionSecret || read(SESSION_KEY) !== session.id) {
      write(SECRET_KEY, session.sessionSecret ?? null);
    }
    if (session.sessionSecret) {
      write(USER_SECRET_KEY, session.sessionSecret);
    }
    write(SESSION_KEY, session.id);
  },
  forgetUser() {
    write(USER_KEY, null);
    write(USER_SECRET_KEY, null);
    this.forgetSession();
  },
  /** The user and the proof of being them stay: the next Play resumes the same person. */
  forgetSession() {
    if (read(USER_SECRET_KEY) === null && read(SECRET_KEY) !== null) {
      write(USER_SECRET_KEY, read(SECRET_KEY));
    }
    write(SESSION_KEY, null);
    write(SECRET_KEY, null);
  },
};

/** A random idempotency key. crypto.randomUUID needs a secure context; fall back to getRandomValues. */
export function newIdempotencyKey() {
  if (typeof crypto.randomUUID === "function") {
    return crypto.randomUUID();
  }

  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
