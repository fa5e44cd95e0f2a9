// The outbox: every answer, file and step to the next level is written here first (IndexedDB, files as Blobs) and sent
// from here in order. An answer carries its own Idempotency-Key, kept with it, so a retry whose first 201 was lost is
// stored once. An entry leaves only after the API accepted it, so a dead network, a reload or a closed tab loses
// nothing: the next visit sends what is left before anything else. Network errors, 5xx, 408 and 429 are retried with
// backoff (429/503 after their Retry-After); any other refusal is final and is dropped with a note (the page says what
// was lost), so one bad entry never holds back the answers behind it.
// Without IndexedDB (some private modes), or when the browser's quota refuses an entry, entries wait in memory: still
// in order and retried, but only while the page is open, and the page says so.

import { api } from "./api.js";

const DB_NAME = "mindjourney-outbox";
const STORE = "entries";
const FIRST_RETRY_MS = 1000;
const LAST_RETRY_MS = 30_000;
const LONGEST_RETRY_AFTER_MS = 5 * 60_000;
const LEAVING_MS = 3000;

/** What the participant is told: everything sent, sending, or waiting for the network. */
export const SaveState = Object.freeze({ saved: "saved", saving: "saving", offline: "offline" });

/** Why entries are kept in memory only: no IndexedDB at all, or the browser's quota refused one. */
export const MemoryReason = Object.freeze({ unavailable: "unavailable", quota: "quota" });

function transact(db, mode, work) {
  return new Promise((resolve, reject) => {
    let transaction;
    try {
      transaction = db.transaction(STORE, mode);
    } catch (error) {
      reject(error);
      return;
    }

    let result;
    const request = work(transaction.objectStore(STORE));
    request.onsuccess = () => {
      result = request.result;
    };
    // A failed request aborts its transaction (a quota refusal shows up here, at the latest on commit).
    transaction.oncomplete = () => resolve(result);
    transaction.onabort = () => reject(transaction.error ?? request.error ?? new DOMException("Aborted", "AbortError"));
  });
}

/** Entries in IndexedDB, ordered by an auto-incremented seq: they survive a reload and a closed tab. */
class DatabaseEntries {
  constructor(db) {
    this.db = db;
  }

  static async open() {
    try {
      if (!globalThis.indexedDB) {
        return null;
      }

      const db = await new Promise((resolve, reject) => {
        const request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
        request.onblocked = () => reject(new DOMException("Blocked", "AbortError"));
      });
      db.onversionchange = () => db.close();
      return new DatabaseEntries(db);
    } catch {
      return null; // Blocked, refused (private modes) or broken: the memory fallback takes over.
    }
  }

  add = (entry) => transact(this.db, "readwrite", (store) => store.add(entry));

  first = async () => (await transact(this.db, "readonly", (store) => store.getAll(null, 1)))[0] ?? null;

  all = () => transact(this.db, "readonly", (store) => store.getAll());

  remove = (seq) => transact(this.db, "readwrite", (store) => store.delete(seq));
}

/** Entries that live as long as the page. */
class MemoryEntries {
  entries = [];
  nextSeq = 1;

  add = async (entry) => {
    const seq = this.nextSeq++;
    this.entries.push({ ...entry, seq });
    return seq;
  };

  first = async () => this.entries[0] ?? null;

  all = async () => [...this.entries];

  remove = async (seq) => {
    this.entries = this.entries.filter((e) => e.seq !== seq);
  };
}

const sleepFor = (attempt) => {
  const base = Math.min(LAST_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4)); // jitter: pages that lost the network together spread out
};

/** The API's answer for a session whose participant withdrew (410). */
export const WITHDRAWN_PROBLEM = "/problems/withdrawn";

export class Outbox {
  #database;
  #memory = new MemoryEntries();
  #memoryReason;
  #pending = 0;
  #networkDown = false;
  #stalled = false; // waiting to retry after a failure (or for the network)
  #running = false;
  #wake = null;
  #attempt = 0;
  #leavingUntil = 0;
  #listeners = { change: new Set(), sent: new Set(), refused: new Set(), progress: new Set() };

  constructor(database, pending) {
    this.#database = database;
    this.#memoryReason = database ? null : MemoryReason.unavailable;
    this.#pending = pending;
    window.addEventListener("online", () => this.kick());
    window.addEventListener("offline", () => this.#changed());
    // A send started while the page is being left (a reload, a closed tab) would lose its reply, and the next visit
    // would send it again: hold new sends a moment, until the page is either gone or staying.
    window.addEventListener("beforeunload", () => {
      this.#leavingUntil = performance.now() + LEAVING_MS;
    });
    // Timers of a background tab are slowed down: coming back to it is a good moment to try.
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && this.#pending > 0) {
        this.kick();
      }
    });
  }

  static async open() {
    const database = await DatabaseEntries.open();
    let pending = 0;
    try {
      pending = database ? (await database.all()).length : 0;
    } catch {
      pending = 0;
    }

    return new Outbox(database, pending);
  }

  /** `change` (state), `sent` (entry, body), `refused` (entry, ApiError), `progress` (entry, fraction 0..1 or null). */
  on(event, listener) {
    this.#listeners[event].add(listener);
    return () => this.#listeners[event].delete(listener);
  }

  get state() {
    const offline = this.#networkDown || navigator.onLine === false;
    return {
      view: offline ? SaveState.offline : this.#pending > 0 ? SaveState.saving : SaveState.saved,
      pending: this.#pending,
      memoryReason: this.#memoryReason,
      unsafeToLeave: this.#memory.entries.length > 0,
    };
  }

  /**
   * An answer: `{ sessionId, levelNumber, levelId, questionId, label, responseType, responseData, file?, fileName? }`,
   * given its Idempotency-Key here so every retry sends the same one. Resolves once the entry is kept.
   */
  addAnswer(answer, key) {
    return this.#add({ ...answer, kind: "answer", key, createdAt: new Date().toISOString() });
  }

  /** The participant moved on: `changes` is the session PATCH (currentLevel, isCompleted), sent in its turn. */
  addProgress(sessionId, secret, changes, key) {
    return this.#add({ kind: "progress", key, sessionId, secret, changes, createdAt: new Date().toISOString() });
  }

  async #add(entry) {
    if (this.#database && this.#memoryReason === null) {
      try {
        await this.#database.add(entry);
        return this.#added();
      } catch (error) {
        // From here on entries wait in memory, after those already kept, so the order holds.
        this.#memoryReason = error?.name === "QuotaExceededError" ? MemoryReason.quota : MemoryReason.unavailable;
      }
    }

    await this.#memory.add(entry);
    return this.#added();
  }

  #added() {
    this.#pending += 1;
    this.#changed();
    this.kick();
  }

  /** What is still to be sent for a session: its latest level and whether its completion waits. */
  async pendingProgress(sessionId) {
    const entries = [...(await this.#databaseEntries()), ...this.#memory.entries]
      .filter((e) => e.kind === "progress" && e.sessionId === sessionId);
    return {
      currentLevel: entries.reduce((level, e) => Math.max(level, e.changes.currentLevel ?? 0), 0) || null,
      isCompleted: entries.some((e) => e.changes.isCompleted === true),
    };
  }

  /** Try now: after a new entry, when the network is back, when the page is opened again. */
  kick() {
    this.#networkDown = false;
    this.#stalled = false;
    this.#changed();
    if (this.#wake) {
      this.#wake();
    } else {
      this.#pump();
    }
  }

  /** Resolves true once everything is sent, or false as soon as sending stalls (offline, or waiting to retry). */
  settle() {
    return this.#until(() => (this.#pending === 0 ? true : this.#stalled ? false : undefined));
  }

  /** Resolves once everything is sent, however long the network takes. */
  drained() {
    return this.#until(() => (this.#pending === 0 ? true : undefined));
  }

  #until(outcome) {
    return new Promise((resolve) => {
      const check = () => {
        const result = outcome();
        if (result !== undefined) {
          stop();
          resolve(result);
        }
      };
      const stop = this.on("change", check);
      check();
    });
  }

  async #databaseEntries() {
    try {
      return this.#database ? await this.#database.all() : [];
    } catch {
      return [];
    }
  }

  /** The oldest entry: those kept in IndexedDB first, as every memory entry was added after them. */
  async #first() {
    const kept = this.#database ? await this.#database.first() : null;
    if (kept) {
      return { entry: kept, from: this.#database };
    }

    const entry = await this.#memory.first();
    return entry ? { entry, from: this.#memory } : null;
  }

  async #pump() {
    if (this.#running) {
      return;
    }

    this.#running = true;
    try {
      for (;;) {
        let next;
        try {
          next = await this.#first();
        } catch {
          // IndexedDB unreadable just now: the memory entries wait behind it, to keep the order.
          this.#attempt += 1;
          await this.#wait(sleepFor(this.#attempt));
          continue;
        }

        if (!next) {
          // Counted afresh: another tab of the same person may have sent entries meanwhile, or added one just now.
          this.#pending = (await this.#databaseEntries()).length + this.#memory.entries.length;
          if (this.#pending === 0) {
            break;
          }

          continue;
        }

        if (navigator.onLine === false) {
          await this.#wait(LAST_RETRY_MS); // the online event wakes this at once
          continue;
        }

        const leaving = this.#leavingUntil - performance.now();
        if (leaving > 0) {
          await this.#wait(leaving);
          continue;
        }

        const { entry, from } = next;
        try {
          const body = await this.#send(entry);
          await this.#done(entry, from);
          this.#attempt = 0;
          this.#emit("sent", entry, body);
        } catch (error) {
          if (error?.retryable !== false) {
            this.#attempt += 1;
            this.#networkDown = !error?.status;
            const retryAfter = error?.retryAfterSeconds;
            await this.#wait(Number.isFinite(retryAfter) && retryAfter > 0
              ? Math.min(retryAfter * 1000, LONGEST_RETRY_AFTER_MS) : sleepFor(this.#attempt));
            continue;
          }

          // Refused for good (another 4xx): sending it again would be refused again and hold back the rest.
          await this.#done(entry, from);
          if (error?.type === WITHDRAWN_PROBLEM) {
            // Its person withdrew: everything else of that session would get the same 410. Dropped, not retried.
            await this.#dropSession(entry.sessionId);
          }

          this.#emit("refused", entry, error);
        }
      }
    } finally {
      this.#running = false;
      this.#changed();
    }
  }

  async #dropSession(sessionId) {
    for (const from of [this.#database, this.#memory]) {
      try {
        for (const other of from ? await from.all() : []) {
          if (other.sessionId === sessionId) {
            await from.remove(other.seq);
          }
        }
      } catch {
        // Unreadable just now: those entries come back later, and are dropped then.
      }
    }

    this.#pending = (await this.#databaseEntries()).length + this.#memory.entries.length;
    this.#changed();
  }

  #send(entry) {
    if (entry.kind === "progress") {
      return api.updateSession(entry.sessionId, entry.secret, entry.changes);
    }

    const { sessionId, levelId, questionId, responseType, responseData } = entry;
    if (entry.file) {
      return api.uploadResponse({ sessionId, levelId, questionId, responseType, responseData, file: entry.file,
        fileName: entry.fileName }, entry.key, (fraction) => this.#emit("progress", entry, fraction));
    }

    return api.answerResponse({ sessionId, levelId, questionId, responseType, responseData }, entry.key);
  }

  async #done(entry, from) {
    try {
      await from.remove(entry.seq);
    } catch {
      // Left behind, it is sent again later with the same key, and the API answers with the first answer.
    }

    this.#pending = Math.max(0, this.#pending - 1);
    this.#networkDown = false;
    this.#changed();
  }

  #wait(ms) {
    this.#stalled = true;
    this.#changed();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#wake?.(), ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = null;
        this.#stalled = false;
        resolve();
      };
    });
  }

  #changed() {
    this.#emit("change", this.state);
  }

  #emit(event, ...args) {
    for (const listener of [...this.#listeners[event]]) {
      try {
        listener(...args);
      } catch (error) {
        console.error(error); // one listener's fault must not stop the outbox
      }
    }
  }
}
