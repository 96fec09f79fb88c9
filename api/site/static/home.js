// The home page: the latest stories, newest first, ten at a time.
import { gql, h, moreButton, renderMain, setTitle, time } from "./site.js";

const PAGE_SIZE = 10;

function storyCard(story) {
  return h(
    "article",
    { class: "story-card" },
    h("h2", {}, h("a", { href: `/articles/${encodeURIComponent(story.slug)}` }, story.title)),
    story.dek ? h("p", { class: "dek" }, story.dek) : null,
    h(
      "p",
      { class: "meta" },
      time(story.publishedAt),
      story.section ? ` · ${story.section.slug.replaceAll("-", " ")}` : "",
      story.commentCount ? ` · ${story.commentCount} comments` : "",
    ),
  );
}

renderMain(async () => {
  setTitle("Latest stories");
  const list = h("div", { class: "stories" });
  let after = null;
  async function load() {
    const { articles } = await gql("latest-articles", { first: PAGE_SIZE, after });
    const cards = articles.nodes.map(storyCard);
    list.append(...cards);
    after = articles.pageInfo.endCursor;
    return articles.pageInfo.hasNextPage;
  }
  const more = moreButton("More stories", async () => {
    const before = list.children.length;
    const hasNext = await load();
    list.children[before]?.querySelector("a")?.focus();
    return hasNext;
  });
  more.hidden = !(await load());
  return [h("h1", {}, "Latest stories"), list, more];
});
