// The participant routes of the HTTP contract (docs/ARCHITECTURE.md; docs/SECURITY.md). Errors are RFC 9457 ProblemDetails; they become
// ApiError with the status (0 for a network failure) so callers can decide whether a retry makes sense.

export class ApiError extends Error {
  constructor(status, title, detail, retryAfterSeconds = null, type = null) {
    super(detail || title || (status === 0 ? "The network request failed." : `HTTP ${status}`));
    this.name = "ApiError";
    this.status = status;
    this.title = title ?? null;
    this.detail = detail ?? null;
    this.retryAfterSeconds = retryAfterSeconds;
    this.type = type; // the problem's type (/problems/study-full): which refusal it is, without reading the text
  }

  /** Worth trying again: the network, the server (5xx), a timeout (408) or the rate limit (429). */
  get retryable() {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

function retryAfterOf(value) {
  const seconds = Number.parseInt(value ?? "", 10);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
}

/** The ProblemDetails of a refused answer as an ApiError (the status alone when the body is not one). */
export async function errorFrom(response) {
  let title = null;
  let detail = null;
  let type = null;
  try {
    const problem = await response.json();
    title = typeof problem?.title === "string" ? problem.title : null;
    detail = typeof problem?.detail === "string" ? problem.detail : null;
    type = typeof problem?.type === "string" ? problem.type : null;
  } catch {
    // Not JSON (a proxy's page, an empty body): the status says enough.
  }

  return new ApiError(response.status, title, detail, retryAfterOf(response.headers.get("Retry-After")), type);
}

// A request that hangs (a dead mobile link, a stuck proxy) fails after this long, so it can be retried.
const REQUEST_TIMEOUT_MS = 30_000;

// An upload fails when no byte has moved for this long; a slow but moving one may take as long as it needs.
const UPLOAD_STALL_MS = 60_000;

async function request(method, url, { body, headers } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, cache: "no-store" };
  if (typeof AbortSignal.timeout === "function") {
    init.signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  }

  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }

  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiError(0, "Network error", null);
  }

  if (!response.ok) {
    throw await errorFrom(response);
  }

  return response.status === 204 ? null : response.json();
}

const id = (value) => encodeURIComponent(value);

export const api = {
  // The study the page's link names (else the most recently opened); a pilot link's token goes in a header.
  activeExperiment: (study, pilotToken) => request("GET",
    study ? `/api/experiment?study=${encodeURIComponent(study)}` : "/api/experiment",
    { headers: pilotToken ? { "X-Pilot-Token": pilotToken } : {} }),

  levels: (experimentId) => request("GET", `/api/experiment/${id(experimentId)}/levels`),

  /**
   * Press Play. The same idempotency key (a retry of the same click) returns the same session and number. Resuming a
   * person (`body.userId`) takes the secret of one of their sessions as proof; without it the API answers 404.
   */
  startSession: (body, idempotencyKey, userSecret) =>
    request("POST", "/api/session", {
      body,
      headers: { "Idempotency-Key": idempotencyKey, ...(userSecret ? { "X-Session-Secret": userSecret } : {}) },
    }),

  /** A session's own data needs the secret its start returned (`sessionSecret`), sent as a header. */
  session: (sessionId, secret) =>
    request("GET", `/api/session/${id(sessionId)}`, { headers: { "X-Session-Secret": secret ?? "" } }),

  updateSession: (sessionId, secret, changes) =>
    request("PATCH", `/api/session/${id(sessionId)}`, { body: changes, headers: { "X-Session-Secret": secret ?? "" } }),

  /** An answer without a file. The same Idempotency-Key (a retry of the same answer) stores it once. */
  answerResponse: ({ sessionId, levelId, questionId, responseType, responseData }, idempotencyKey) =>
    request("POST", "/api/response", {
      body: { sessionId, levelId, questionId, responseType, responseData },
      headers: { "Idempotency-Key": idempotencyKey },
    }),

  /**
   * A recorded or chosen file, as multipart/form-data, with its answer's Idempotency-Key. XMLHttpRequest rather than
   * fetch because it reports upload progress. onProgress gets a fraction 0..1 (or null when the size is unknown).
   */
  uploadResponse({ sessionId, levelId, questionId, responseType, responseData, file, fileName }, idempotencyKey,
    onProgress) {
    const form = new FormData();
    form.append("sessionId", sessionId);
    form.append("levelId", levelId);
    form.append("questionId", questionId);
    form.append("responseType", responseType);
    form.append("responseData", JSON.stringify(responseData));
    form.append("file", file, fileName);

    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      let stall = null;
      const watch = () => {
        clearTimeout(stall);
        stall = setTimeout(() => xhr.abort(), UPLOAD_STALL_MS);
      };
      xhr.open("POST", "/api/response");
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("Idempotency-Key", idempotencyKey);
      xhr.upload.addEventListener("progress", (event) => {
        watch();
        onProgress?.(event.lengthComputable && event.total > 0 ? event.loaded / event.total : null);
      });
      xhr.addEventListener("loadend", () => clearTimeout(stall));
      xhr.addEventListener("load", () => {
        let body = null;
        try {
          body = xhr.responseText ? JSON.parse(xhr.responseText) : null;
        } catch {
          body = null;
        }

        if (xhr.status >= 200 && xhr.status < 300) {
          onProgress?.(1);
          resolve(body);
        } else {
          reject(new ApiError(xhr.status,
            typeof body?.title === "string" ? body.title : null,
            typeof body?.detail === "string" ? body.detail : null,
            retryAfterOf(xhr.getResponseHeader("Retry-After"))));
        }
      });
      xhr.addEventListener("error", () => reject(new ApiError(0, "Network error", null)));
      xhr.addEventListener("abort", () => reject(new ApiError(0, "Upload stalled", null)));
      watch();
      xhr.send(form);
    });
  },
};
