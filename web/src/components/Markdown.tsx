/**
 * Replies as Markdown. react-markdown builds React elements and never passes raw HTML through
 * (no rehype-raw), so a reply containing `<script>` or `<img onerror>` shows as text; its
 * default URL filter drops `javascript:` links.
 */
import { memo } from "react";
import ReactMarkdown, { type Components } from "react-markdown";
import remarkGfm from "remark-gfm";

const components: Components = {
  a: ({ node: _node, ...props }) => <a {...props} target="_blank" rel="noopener noreferrer" />,
  pre: ({ node: _node, ...props }) => <pre className="code-block" tabIndex={0} {...props} />,
  table: ({ node: _node, ...props }) => (
    <div className="table-scroll">
      <table {...props} />
    </div>
  ),
};

export const Markdown = memo(function Markdown({ text }: { text: string }) {
  return (
    <div className="markdown">
      <ReactMarkdown remarkPlugins={[remarkGfm]} components={components} skipHtml={false}>
        {text}
      </ReactMarkdown>
    </div>
  );
});
