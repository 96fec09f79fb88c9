// Shared by every page: the GraphQL client, DOM helpers and the search box's suggestions.
// Text from the API and from readers only ever reaches the page as text nodes.

const queries = JSON.parse(document.getElementById("queries").textContent);

export class ApiError extends Error {}

const PLAIN_MESSAGES = {
  SERVICE_UNAVAILABLE: "The newsroom is busy or unavailable right now: please try again in a moment.",
  RATE_LIMITED: "Too many requests from your address: please wait a moment and try again.",
};

// Sends one of the contract queries (the page embedded their texts) and returns `data`; any
// error becomes an ApiError with a message fit to show a reader.
export async function gql(name, variables = {}, { signal } = {}) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ query: queries[name], variables }),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("The newsroom could not be reached: check your connection and try again.");
  }
  let answer;
  try {
    answer = await response.json();
  } catch {
    throw new ApiError(`The newsroom answered with an error (HTTP ${response.status}): please try again.`);
  }
  const error = answer.errors?.[0];
  if (error) {
    const code = error.extensions?.code;
    if (code === "BAD_USER_INPUT") throw new ApiError(error.message);
    const reference = response.headers.get("x-request-id");
    const plain = PLAIN_MESSAGES[code] ?? "Something went wrong on our side: please try again.";
    throw new ApiError(reference ? `${plain} (Reference ${reference}.)` : plain);
  }
  return answer.data;
}

// h("a", { href: "/x", class: "c", onclick: f }, "text", child): strings become text nodes.
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return element;
}

const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'", "&#39;": "'" };

// The API's highlights are escaped text with <mark> around matches: the two tags become mark
// elements, the escaped characters become text again, and nothing else is interpreted.
export function highlighted(escaped) {
  const nodes = [];
  let marked = false;
  for (const part of escaped.split(/(<mark>|<\/mark>)/)) {
    if (part === "<mark>") marked = true;
    else if (part === "</mark>") marked = false;
    else if (part) {
      const text = part.replace(/&(?:amp|lt|gt|quot|#x27|#39);/g, (entity) => ENTITIES[entity]);
      nodes.push(marked ? h("mark", {}, text) : text);
    }
  }
  return nodes;
}

const DATE = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "long", year: "numeric" });
const DATE_TIME = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short" });

export function time(iso, { withTime = false } = {}) {
  if (!iso) return null;
  return h("time", { datetime: iso }, (withTime ? DATE_TIME : DATE).format(new Date(iso)));
}

export const humanise = (slug) => slug.replaceAll("-", " ");

export const plural = (count, one, many) => `${count} ${count === 1 ? one : many}`;

export function setTitle(title) {
  document.title = `${title} — Newsroom`;
}

export function alert(error) {
  const message = error instanceof ApiError ? error.message : "Something went wrong in this page: please reload it.";
  if (!(error instanceof ApiError)) console.error(error);
  return h("p", { role: "alert", class: "error" }, message);
}

export function clearErrors(form) {
  form.querySelectorAll("[aria-invalid]").forEach((field) => field.removeAttribute("aria-invalid"));
  form.querySelector(".error")?.remove();
}

// A reader's form: busy while `send` runs; a ValidationError is shown on the field it names,
// a failure as an alert, and `show` says what every other result means.
export function onSubmit(form, button, status, send, show) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    status.textContent = "Sending…";
    button.disabled = true;
    try {
      const result = await send();
      if (result.__typename === "ValidationError") {
        status.textContent = result.message;
        const field = form.elements[result.field];
        if (field) {
          field.setAttribute("aria-invalid", "true");
          field.focus();
        }
      } else {
        show(result);
      }
    } catch (error) {
      status.textContent = "";
      form.append(alert(error));
    } finally {
      button.disabled = false;
    }
  });
}

// A "More stories" button: `load` appends the next page and says whether there is another.
export function moreButton(label, load) {
  const button = h("button", { type: "button", class: "more" }, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    if (button.nextElementSibling?.matches(".error")) button.nextElementSibling.remove();
    try {
      button.hidden = !(await load());
    } catch (error) {
      button.after(alert(error));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

// The search box: suggestions ~150 ms after typing stops, from two characters on.
const SUGGEST_DELAY_MS = 150;
const KIND_PATH = { articles: "articles", people: "people", topics: "topics" };
const KIND_LABEL = { articles: "story", people: "person", topics: "topic" };

function initSearchBox() {
  const form = document.querySelector("form[role=search]");
  const input = document.getElementById("q");
  const list = document.getElementById("suggestions");
  if (!form || !input || !list) return;
  const here = new URLSearchParams(location.search);
  if (location.pathname === "/search" && here.has("q")) input.value = here.get("q");

  let timer = 0;
  let pending = null;
  let active = -1;

  const options = () => [...list.querySelectorAll("[role=option]")];
  const close = () => {
    list.hidden = true;
    active = -1;
    input.removeAttribute("aria-activedescendant");
  };
  const highlight = (index) => {
    const all = options();
    if (!all.length) return;
    active = (index + all.length) % all.length;
    all.forEach((option, i) => option.setAttribute("aria-selected", String(i === active)));
    input.setAttribute("aria-activedescendant", all[active].id);
    all[active].scrollIntoView({ block: "nearest" });
  };

  async function suggest() {
    const prefix = input.value.trim();
    pending?.abort();
    if (prefix.length < 2) {
      list.replaceChildren();
      close();
      return;
    }
    const controller = new AbortController();
    pending = controller;
    let data;
    try {
      data = await gql("search-suggest", { prefix }, { signal: controller.signal });
    } catch (error) {
      if (error.name !== "AbortError") close();
      return;
    }
    if (pending !== controller) return;
    const items = [];
    const option = (kind, slug, ...label) => {
      const id = `suggestion-${items.length}`;
      items.push(
        h(
          "li",
          { role: "option", id, "aria-selected": "false", "data-kind": kind },
          h("a", { href: `/${KIND_PATH[kind]}/${encodeURIComponent(slug)}`, tabindex: "-1" }, ...label),
          h("span", { class: "kind", "aria-hidden": "true" }, KIND_LABEL[kind]),
        ),
      );
    };
    // A story shows why it is suggested: its headline with the matching words marked, or the
    // headline and, below it, the standfirst or name that matched.
    for (const { article, matchedIn, highlight: marked } of data.suggest.articleMatches) {
      if (matchedIn === "TITLE") option("articles", article.slug, ...highlighted(marked));
      else option("articles", article.slug, article.title, h("small", { class: "why" }, ...highlighted(marked)));
    }
    for (const kind of ["people", "topics"]) {
      for (const item of data.suggest[kind]) option(kind, item.slug, item.name);
    }
    list.replaceChildren(...items);
    active = -1;
    input.removeAttribute("aria-activedescendant");
    list.hidden = items.length === 0;
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(suggest, SUGGEST_DELAY_MS);
  });
  input.addEventListener("keydown", (event) => {
    const open = !list.hidden && options().length > 0;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!open) return;
      event.preventDefault();
      if (event.key === "ArrowDown") highlight(active + 1);
      else highlight(active < 0 ? -1 : active - 1);
    } else if (event.key === "Enter" && open && active >= 0) {
      event.preventDefault();
      location.assign(options()[active].querySelector("a").href);
    } else if (event.key === "Escape" && open) {
      // Escape in a search field would also clear it: closing the list is enough.
      event.preventDefault();
      close();
    }
  });
  // A click on a suggestion must not blur the field first (the list would close under it).
  list.addEventListener("mousedown", (event) => event.preventDefault());
  form.addEventListener("focusout", (event) => {
    if (!form.contains(event.relatedTarget)) close();
  });
  document.addEventListener("pointerdown", (event) => {
    if (!form.contains(event.target)) close();
  });
}

initSearchBox();
