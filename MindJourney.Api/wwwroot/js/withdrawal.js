// The participant's withdrawal: "Withdraw my data" under the journey asks first (a <dialog>), then erases their whole
// person's data (DELETE /api/session/{id} with the session's secret). The "your data was withdrawn" screen follows,
// and also when an answer is refused because they withdrew (410 /problems/withdrawn, from another tab or device).

import { h } from "./dom.js";
import { api } from "./api.js";
import { WITHDRAWN_PROBLEM } from "./outbox.js";
import { visitorStore } from "./storage.js";

const $ = (id) => document.getElementById(id);

/** True for the API's refusal of a withdrawn person's answer or change. */
export const isWithdrawal = (error) => error?.type === WITHDRAWN_PROBLEM;

let current = null; // { sessionId, secret, onWithdrawn }

function build(footer) {
  const dialog = h("dialog", { id: "withdraw-dialog", "aria-labelledby": "withdraw-dialog-heading" },
    h("h2", { id: "withdraw-dialog-heading" }, "Withdraw your data?"),
    h("p", {}, "Every answer and recording you gave is erased, and nothing more is recorded. This cannot be undone."),
    h("p", { id: "withdraw-error", className: "form-error", role: "alert" }),
    h("div", { className: "withdraw-actions" },
      h("button", { type: "button", id: "withdraw-confirm", className: "button", onClick: confirm }, "Yes, withdraw my data"),
      h("button", { type: "button", id: "withdraw-keep", className: "button button-secondary", onClick: () => dialog.close() },
        "No, keep going")));
  const open = h("button", { type: "button", id: "withdraw-open", className: "link-button", onClick: () => {
    $("withdraw-error").textContent = "";
    dialog.showModal();
  } }, "Withdraw my data");
  footer.append(open, dialog);
}

async function confirm() {
  const { sessionId, secret, onWithdrawn } = current ?? {};
  const button = $("withdraw-confirm");
  button.disabled = true;
  try {
    await api.withdraw(sessionId, secret);
    $("withdraw-dialog").close();
    onWithdrawn();
  } catch (error) {
    $("withdraw-error").textContent = error.status === 0
      ? "We couldn't reach the server. Check your connection and try again."
      : `We couldn't withdraw your data just now (${error.status}). Please try again.`;
  } finally {
    button.disabled = false;
  }
}

/** Offers "Withdraw my data" for the session on screen; `onWithdrawn` shows the withdrawn screen. */
export function offerWithdrawal(sessionId, secret, onWithdrawn) {
  const footer = $("withdrawal");
  if (!footer || !sessionId || !secret) {
    return;
  }

  if (!footer.firstChild) {
    build(footer);
  }

  current = { sessionId, secret, onWithdrawn };
  footer.hidden = false;
}

/** The screen after a withdrawal. This browser forgets the person: a new Play would be a new participation. */
export function withdrawnScreen() {
  const footer = $("withdrawal");
  if (footer) {
    footer.hidden = true;
  }

  visitorStore.forgetUser();
  return h("div", { className: "start", "data-testid": "withdrawn" },
    h("h1", { tabindex: "-1", "data-testid": "withdrawn-heading" }, "Your data was withdrawn"),
    h("p", { className: "lead" }, "Everything you answered in this study has been erased, and nothing more will be "
      + "recorded. Thank you for your time. You can close this page now."));
}
