// The article page: the story, its topics and people, related stories (the widget), the
// comments, and "suggest a correction" on text the reader selects.
import { PAGE_SIZE, commentsSection } from "./comments.js";
import { clearErrors, gql, h, onSubmit, renderMain, setTitle, time } from "./site.js";

const slug = decodeURIComponent(location.pathname.split("/")[2] ?? "");

function byline(article) {
  const names = article.authors.map((author) => author.name);
  const authors = names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names.at(-1)}` : names[0];
  const updated = article.updatedAt && article.publishedAt && article.updatedAt.slice(0, 10) > article.publishedAt.slice(0, 10);
  return h(
    "p",
    { class: "byline" },
    authors ? [h("span", { class: "authors" }, `By ${authors}`), " · "] : null,
    time(article.publishedAt),
    updated ? [" · Updated ", time(article.updatedAt)] : null,
  );
}

function block(item) {
  return item.__typename === "Heading" ? h("h2", {}, item.text) : h("p", {}, item.text);
}

function listSection(id, title, items) {
  if (!items.length) return null;
  return h("section", { "aria-labelledby": id, class: "story-links" }, h("h2", { id }, title), h("ul", {}, items));
}

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

renderMain(async () => {
  const thread = gql("comments-thread", { slug, first: PAGE_SIZE });
  // The page's own failure is reported once, by the article request below.
  thread.catch(() => {});
  const { article } = await gql("article-page", { slug });
  if (!article) return null;
  setTitle(article.title);
  const story = h(
    "article",
    { class: "story", "aria-labelledby": "story-title" },
    h(
      "header",
      { class: "story-head" },
      h("p", { class: "section" }, article.section.name),
      h("h1", { id: "story-title" }, article.title),
      article.dek ? h("p", { class: "dek" }, article.dek) : null,
      byline(article),
    ),
    h("div", { class: "story-body" }, article.body.map(block)),
    correctionControls(),
    listSection(
      "topics-heading",
      "Topics",
      article.topics.map((topic) => h("li", {}, h("a", { href: `/topics/${encodeURIComponent(topic.slug)}` }, topic.name))),
    ),
    listSection(
      "people-heading",
      "People in this story",
      article.people.map(({ person, role }) =>
        h("li", {}, h("a", { href: `/people/${encodeURIComponent(person.slug)}` }, person.name), role ? [" ", h("span", { class: "role" }, role)] : null),
      ),
    ),
  );
  const readNext = h("section", { "aria-label": "Read next", class: "read-next" }, h("related-stories", { slug: article.slug, limit: "4" }));
  readNext.addEventListener("related-stories-rendered", (event) => {
    readNext.hidden = event.detail.count === 0;
  });
  return [
    story,
    readNext,
    commentsSection(article.slug, thread),
  ];
});
