// The researcher page's withdrawal: find a person by visitor number (or by the participant id their panel sent),
// then "Withdraw…" asks for a confirmation in a <dialog>, with an optional reason (kept in the action log, so no
// personal data belongs in it), and erases their data (POST /api/admin/users/{userId}/withdraw). The number stays.

import { h, replaceChildren } from "./dom.js";
import { ApiError, errorFrom } from "./api.js";
import { adminKey } from "./admin-api.js";

const $ = (id) => document.getElementById(id);
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

async function call(path, { method = "GET", headers = {}, body } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      cache: "no-store",
      headers: { Accept: "application/json", "X-Admin-Key": adminKey.get() ?? "", ...headers,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "Network error", null);
  }

  if (!response.ok) {
    throw await errorFrom(response);
  }

  return response.json();
}

const describe = (error) => error?.status === 0 ? "The server could not be reached."
  : `The server answered ${error?.status ?? "?"}.${error?.detail ? ` ${error.detail}` : ""}`;

/** One row per person (their sessions share the number), newest session first. */
function people(rows) {
  const byUser = new Map();
  for (const row of rows) {
    if (!byUser.has(row.userId)) {
      byUser.set(row.userId, { ...row, sessions: 0 });
    }

    byUser.get(row.userId).sessions += 1;
  }

  return [...byUser.values()];
}

const label = (person) => person.visitorNumber === null ? "No number yet"
  : `${person.mode === "pilot" ? "Pilot" : "Visitor"} #${person.visitorNumber}`;

function personRow(person, ask) {
  return h("tr", { dataset: { userId: person.userId } },
    h("th", { scope: "row", text: label(person) }),
    h("td", { text: `${person.sessions} session${person.sessions === 1 ? "" : "s"}` }),
    h("td", {}, h("time", { datetime: person.createdAt, text: dateTime.format(new Date(person.createdAt)) })),
    h("td", { "data-testid": "withdraw-state", text: person.withdrawnAt ? "Withdrawn" : "Taking part" }),
    h("td", {}, person.withdrawnAt ? null
      : h("button", { type: "button", className: "button button-secondary", onClick: () => ask(person) }, "Withdraw…")));
}

/** Wires the "Withdraw a participant" section; `onWithdrawn` refreshes what else the page shows. */
export function startWithdrawals({ onWithdrawn }) {
  const form = $("withdraw-search");
  const status = $("withdraw-status");
  const dialog = $("withdraw-dialog");
  let chosen = null;
  let lastSearch = null;

  async function search(event) {
    event?.preventDefault();
    const number = $("withdraw-number").value.trim();
    const panelId = $("withdraw-panel-id").value.trim();
    if (!number && !panelId) {
      status.textContent = "Type a visitor number or a panel participant id.";
      return;
    }

    lastSearch = { number, panelId };
    status.textContent = "Searching…";
    try {
      // A panel id is personal data: it goes in a header, never in a URL.
      const rows = await call(number ? `/api/admin/participants?limit=500&visitorNumber=${encodeURIComponent(number)}`
        : "/api/admin/participants?limit=500", { headers: panelId ? { "X-Participant-Id": panelId } : {} });
      const found = people(rows);
      replaceChildren($("withdraw-results"), found.map((person) => personRow(person, ask)));
      status.textContent = found.length === 0 ? "Nobody found." : `${found.length} found.`;
    } catch (error) {
      status.textContent = `The search failed. ${describe(error)}`;
    }
  }

  function ask(person) {
    chosen = person;
    $("withdraw-dialog-text").textContent = `Erase every answer and file of ${label(person)}? Their visitor number stays `
      + "taken, so the numbering has no gap. This cannot be undone.";
    $("withdraw-reason").value = "";
    dialog.showModal();
  }

  async function confirm(event) {
    event.preventDefault();
    if (!chosen) {
      return;
    }

    const person = chosen;
    const reason = $("withdraw-reason").value.trim();
    dialog.close();
    status.textContent = `Withdrawing ${label(person)}…`;
    try {
      const result = await call(`/api/admin/users/${encodeURIComponent(person.userId)}/withdraw`,
        { method: "POST", body: reason ? { reason } : {} });
      status.textContent = `${label(person)} is withdrawn: ${result.erased.answers} answers and `
        + `${result.erased.files} files erased.`;
      onWithdrawn?.();
      const done = status.textContent;
      if (lastSearch) {
        await search();
        status.textContent = done;
      }
    } catch (error) {
      status.textContent = `The withdrawal failed. ${describe(error)}`;
    }
  }

  form.addEventListener("submit", search);
  $("withdraw-confirm-form").addEventListener("submit", confirm);
  $("withdraw-cancel").addEventListener("click", () => dialog.close());
}
