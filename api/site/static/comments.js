// The comments section of an article: threads one level deep, spoilers hidden until asked
// for, and the forms to post a comment or a reply.
import { alert, gql, h, moreButton, onSubmit, time } from "./site.js";

export const PAGE_SIZE = 20;
const nameOf = (comment) => comment.authorName || "Anonymous";

function spoilerToggle(body) {
  const button = h("button", { type: "button", class: "spoiler-toggle", "aria-expanded": "false", "aria-controls": body.id }, "Show spoiler");
  button.addEventListener("click", () => {
    const show = body.hidden;
    body.hidden = !show;
    button.textContent = show ? "Hide spoiler" : "Show spoiler";
    button.setAttribute("aria-expanded", String(show));
  });
  return button;
}

function commentView(comment, { reply }) {
  const bodyId = `comment-body-${comment.id}`;
  const body = h("p", { class: "comment-body", id: bodyId, hidden: comment.isSpoiler }, comment.body);
  return h(
    "article",
    { class: "comment", "data-comment-id": comment.id },
    h("header", {}, h("span", { class: "author" }, nameOf(comment)), " ", time(comment.createdAt ?? new Date().toISOString(), { withTime: true })),
    comment.isSpoiler ? [h("p", { class: "spoiler-note" }, "This comment contains spoilers."), spoilerToggle(body)] : null,
    body,
    reply,
  );
}

// One form for comments and replies; `onPublished` shows a comment that needs no moderation.
function commentForm({ slug, parent, onPublished }) {
  const prefix = parent ? `reply-${parent.id}` : "comment";
  const status = h("p", { role: "status", class: "form-status" });
  const submit = h("button", { type: "submit" }, parent ? "Post reply" : "Post comment");
  const form = h(
    "form",
    { "aria-label": parent ? `Reply to ${nameOf(parent)}` : "Post a comment", class: "comment-form", novalidate: true },
    h("div", { class: "field" }, h("label", { for: `${prefix}-name` }, "Name"), h("input", { id: `${prefix}-name`, name: "authorName", autocomplete: "name" })),
    h("div", { class: "field" }, h("label", { for: `${prefix}-body` }, "Comment"), h("textarea", { id: `${prefix}-body`, name: "body", rows: 4, required: true })),
    h("div", { class: "check" }, h("label", {}, h("input", { type: "checkbox", name: "isSpoiler" }), " Contains spoilers")),
    submit,
    status,
  );
  const deliver = () => {
    const input = {
      articleSlug: slug,
      authorName: form.elements.authorName.value,
      body: form.elements.body.value,
      isSpoiler: form.elements.isSpoiler.checked,
    };
    if (parent) input.parentId = parent.id;
    return gql("post-comment", { input }).then((data) => data.postComment);
  };
  onSubmit(form, submit, status, deliver, (result) => {
    if (result.__typename === "CommentPosted") {
      form.elements.body.value = "";
      form.elements.isSpoiler.checked = false;
      if (result.comment.status === "PUBLISHED") {
        onPublished(result.comment);
        status.textContent = "Your comment is published.";
      } else {
        status.textContent = "Thank you: your comment is awaiting moderation.";
      }
    } else if (result.__typename === "RateLimited") {
      status.textContent = `Too many comments from you: try again in ${result.retryAfterSeconds} seconds.`;
    }
  });
  return form;
}

// `firstPage` is the comments-thread request, started with the page's own.
export function commentsSection(slug, firstPage) {
  const heading = h("h2", { id: "comments-heading" }, "Comments");
  const threads = h("ol", { class: "comments" });
  const empty = h("p", { class: "empty" }, "No comments yet.");
  let count = 0;
  let after = null;
  const setCount = (n) => {
    count = n;
    heading.textContent = `Comments (${n})`;
    empty.hidden = threads.children.length > 0;
  };

  const repliesOf = (item) => item.querySelector(":scope > ol.replies") ?? item.insertBefore(h("ol", { class: "replies" }), item.querySelector(":scope > form"));

  function thread(comment) {
    const item = h("li", {});
    let form = null;
    const replyButton = h("button", { type: "button", class: "reply", "aria-expanded": "false" }, "Reply");
    replyButton.addEventListener("click", () => {
      if (!form) {
        form = commentForm({
          slug,
          parent: comment,
          onPublished: (reply) => {
            repliesOf(item).append(h("li", {}, commentView(reply, {})));
            setCount(count + 1);
          },
        });
        item.append(form);
      } else {
        form.hidden = !form.hidden;
      }
      replyButton.setAttribute("aria-expanded", String(!form.hidden));
      if (!form.hidden) form.elements.body.focus();
    });
    item.append(commentView(comment, { reply: replyButton }));
    const replies = comment.replies?.nodes ?? [];
    if (replies.length) item.append(h("ol", { class: "replies" }, replies.map((reply) => h("li", {}, commentView(reply, {})))));
    if (comment.replyCount > replies.length) {
      item.append(h("p", { class: "more-replies" }, `${comment.replyCount - replies.length} more replies are not shown.`));
    }
    return item;
  }

  function show(article) {
    if (!article) return false;
    threads.append(...article.comments.nodes.map(thread));
    after = article.comments.pageInfo.endCursor;
    setCount(article.commentCount);
    return article.comments.pageInfo.hasNextPage;
  }
  const load = async () => show((await gql("comments-thread", { slug, first: PAGE_SIZE, after })).article);

  const more = moreButton("More comments", load);
  more.hidden = true;
  const form = commentForm({
    slug,
    parent: null,
    onPublished: (comment) => {
      threads.append(thread({ ...comment, replyCount: 0 }));
      setCount(count + 1);
    },
  });
  const section = h(
    "section",
    { id: "comments", "aria-labelledby": "comments-heading" },
    heading,
    empty,
    threads,
    more,
    h("h3", {}, "Join the conversation"),
    form,
  );
  firstPage.then(
    ({ article }) => {
      more.hidden = !show(article);
    },
    (error) => threads.before(alert(error)),
  );
  return section;
}
