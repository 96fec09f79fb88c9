// A person page: who they are, the stories that mention them, what they said.
import { gql, h, plural, renderMain, setTitle, time } from "./site.js";

const slug = decodeURIComponent(location.pathname.split("/")[2] ?? "");
const storyLink = (story) => h("a", { href: `/articles/${encodeURIComponent(story.slug)}` }, story.title);

renderMain(async () => {
  const { person } = await gql("person-page", { slug });
  if (!person) return null;
  setTitle(person.name);
  const stories = person.articles.nodes;
  return [
    h("p", { class: "kicker" }, "Person"),
    h("h1", {}, person.name),
    person.description ? h("p", { class: "description" }, person.description) : null,
    person.aliases.length ? h("p", { class: "aliases" }, `Also known as: ${person.aliases.join(", ")}`) : null,
    h(
      "section",
      { "aria-labelledby": "stories-heading" },
      h("h2", { id: "stories-heading" }, "Stories"),
      h("p", { class: "count" }, plural(person.articles.totalCount, "story", "stories")),
      h("ol", { class: "story-list" }, stories.map((story) => h("li", {}, storyLink(story), " ", time(story.publishedAt)))),
    ),
    h(
      "section",
      { "aria-labelledby": "quotes-heading" },
      h("h2", { id: "quotes-heading" }, "Quotes"),
      person.quotes.length
        ? h(
            "ul",
            { class: "quotes" },
            person.quotes.map((quote) =>
              h("li", {}, h("figure", {}, h("blockquote", {}, quote.text), h("figcaption", {}, "From ", storyLink(quote.article)))),
            ),
          )
        : h("p", {}, "No quotes yet."),
    ),
  ];
});
