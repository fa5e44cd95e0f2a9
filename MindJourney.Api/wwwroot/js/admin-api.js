// The admin routes, with the key the researcher typed. The key lives in this tab's sessionStorage only and goes to
// the server as the X-Admin-Key header, never in a URL (so no history, log or cache holds it).

import { ApiError, errorFrom } from "./api.js";

const keyName = "mindjourney.adminKey";

export const adminKey = {
  get: () => sessionStorage.getItem(keyName),
  set: (key) => sessionStorage.setItem(keyName, key),
  clear: () => sessionStorage.removeItem(keyName),
};

/** The raw response of an admin route; a refusal becomes ApiError (status 0 when the network failed). */
export async function adminFetch(path, { method = "GET", key = adminKey.get(), accept = "application/json" } = {}) {
  let response;
  try {
    response = await fetch(path, { method, headers: { Accept: accept, "X-Admin-Key": key ?? "" }, cache: "no-store" });
  } catch {
    throw new ApiError(0, "Network error", null);
  }

  if (!response.ok) {
    throw await errorFrom(response);
  }

  return response;
}

/** The URL in a `Link: <…>; rel="next"` header, or null on the last page. */
export function nextLink(response) {
  const match = /<([^>]+)>;\s*rel="next"/.exec(response.headers.get("Link") ?? "");
  return match ? match[1] : null;
}

export const adminApi = {
  participants: async (url) => {
    const response = await adminFetch(url);
    return { rows: await response.json(), next: nextLink(response) };
  },

  audit: async (key) => (await adminFetch("/api/admin/visitor-numbers/audit", { key })).json(),

  recover: async () => (await adminFetch("/api/admin/assign-visitor-numbers", { method: "POST" })).json(),

  actions: async () => (await adminFetch("/api/admin/actions?limit=50")).json(),

  /** The export as a Blob and the file name the server suggests (Content-Disposition), if any. */
  export: async (query) => {
    const response = await adminFetch(`/api/admin/export?${query}`, { accept: "*/*" });
    const disposition = response.headers.get("Content-Disposition") ?? "";
    const named = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
    return { blob: await response.blob(), fileName: named ? decodeURIComponent(named[1]) : null };
  },
};
