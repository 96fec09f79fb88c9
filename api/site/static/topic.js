// A topic page: the topic's stories, newest first, with "More stories".
import { gql, h, moreButton, plural, renderMain, setTitle, time } from "./site.js";

const PAGE_SIZE = 10;
const slug = decodeURIComponent(location.pathname.split("/")[2] ?? "");

renderMain(async () => {
  const first = await gql("topic-page", { slug, first: PAGE_SIZE });
  if (!first.topic) return null;
  const { topic } = first;
  setTitle(topic.name);
  const list = h("ol", { class: "story-list" });
  let after = null;
  const append = (articles) => {
    list.append(
      ...articles.edges.map(({ node }) =>
        h("li", {}, h("a", { href: `/articles/${encodeURIComponent(node.slug)}` }, node.title), " ", time(node.publishedAt)),
      ),
    );
    after = articles.pageInfo.endCursor;
    return articles.pageInfo.hasNextPage;
  };
  const more = moreButton("More stories", async () => {
    const before = list.children.length;
    const { topic: next } = await gql("topic-page", { slug, first: PAGE_SIZE, after });
    const hasNext = append(next.articles);
    list.children[before]?.querySelector("a")?.focus();
    return hasNext;
  });
  more.hidden = !append(topic.articles);
  return [
    h("p", { class: "kicker" }, "Topic"),
    h("h1", {}, topic.name),
    h("p", { class: "count" }, plural(topic.articles.totalCount, "story", "stories")),
    list,
    more,
  ];
});
