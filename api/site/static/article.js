// The article page's enhancements: the comments section's forms and "suggest a correction" on
// text the reader selects.
import { PAGE_SIZE, commentsSection } from "./comments.js";
import { clearErrors, gql, h, onSubmit } from "./site.js";

const slug = decodeURIComponent(location.pathname.split("/")[2] ?? "");

function correctionDialog() {
  const quote = h("blockquote", {});
  const status = h("p", { role: "status", class: "form-status" });
  const hint = h("p", { class: "hint" }, "Select the words you mean in the story first, then press Ctrl+Enter or this button again.");
  const send = h("button", { type: "submit" }, "Send correction");
  const close = h("button", { type: "button", class: "secondary" }, "Close");
  const form = h(
    "form",
    { novalidate: true },
    h("h2", {}, "Suggest a correction"),
    h("p", {}, "You selected:"),
    quote,
    hint,
    h("div", { class: "field" }, h("label", { for: "correction-message" }, "What is wrong?"), h("textarea", { id: "correction-message", name: "message", rows: 4, required: true })),
    h("div", { class: "field" }, h("label", { for: "correction-email" }, "Email (optional)"), h("input", { id: "correction-email", type: "email", name: "contactEmail", autocomplete: "email" })),
    h("div", { class: "actions" }, send, close),
    status,
  );
  const dialog = h("dialog", { "aria-label": "Suggest a correction", class: "correction" }, form);
  close.addEventListener("click", () => dialog.close());
  const deliver = () => {
    const input = {
      articleSlug: slug,
      quote: quote.textContent,
      message: form.elements.message.value,
      contactEmail: form.elements.contactEmail.value || null,
    };
    return gql("suggest-correction", { input }).then((data) => data.suggestCorrection);
  };
  onSubmit(form, send, status, deliver, (result) => {
    if (result.__typename === "CorrectionReceived") {
      status.textContent = "Thank you: your correction was sent.";
      form.elements.message.value = "";
    } else {
      status.textContent = "Too many suggestions from you: please try again in a minute.";
    }
  });
  return {
    dialog,
    open(selected) {
      quote.textContent = selected;
      hint.hidden = selected !== "";
      status.textContent = "";
      clearErrors(form);
      dialog.showModal();
      form.elements.message.focus();
    },
  };
}

const selectedText = () => (window.getSelection()?.toString() ?? "").trim();

function correctionControls() {
  const { dialog, open } = correctionDialog();
  // Kept from before the click, in case the click moves the selection.
  let selected = "";
  const button = h("button", { type: "button", class: "secondary" }, "Suggest a correction");
  button.addEventListener("pointerdown", () => {
    selected = selectedText();
  });
  button.addEventListener("click", () => {
    open(selectedText() || selected);
    selected = "";
  });
  document.addEventListener("keydown", (event) => {
    if (!(event.ctrlKey || event.metaKey) || event.key !== "Enter" || dialog.open) return;
    // Ctrl+Enter inside a form field belongs to that field.
    if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
    const text = selectedText();
    if (!text) return;
    event.preventDefault();
    open(text);
  });
  const note = h(
    "p",
    { class: "correction-note" },
    "Spotted a mistake? Select the words and press Ctrl+Enter, or ",
    button,
  );
  return [note, dialog];
}

// The story, its topics, people, related stories and first comments are in the page already
// (rendered on the server); this adds what needs a script: the correction controls, and the
// comments section with its forms, replies and pages in place of the static one.
const story = document.querySelector("article.story");
if (story) {
  const thread = gql("comments-thread", { slug, first: PAGE_SIZE });
  // A failure is shown once, by the comments section.
  thread.catch(() => {});
  story.querySelector(".story-body").after(...correctionControls());
  document.getElementById("comments")?.replaceWith(commentsSection(slug, thread));
}
