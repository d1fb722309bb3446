// @vitest-environment jsdom
import { cleanup, render } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { Markdown } from "../Markdown";

afterEach(cleanup);

describe("Markdown", () => {
  it("renders code blocks, inline code, lists and tables", () => {
    const { container } = render(
      <Markdown
        text={"Here:\n\n```python\nprint('hi')\n```\n\n- `a`\n- b\n\n| x | y |\n|---|---|\n| 1 | 2 |"}
      />,
    );
    expect(container.querySelector("pre code")?.textContent).toBe("print('hi')\n");
    expect(container.querySelectorAll("li")).toHaveLength(2);
    expect(container.querySelector("td")?.textContent).toBe("1");
  });

  it("never turns HTML in a reply into elements", () => {
    const { container } = render(
      <Markdown
        text={
          'hello <img src=x onerror="window.pwned=1"> <script>window.pwned=1</script>\n\n<div onclick="x()">block</div>'
        }
      />,
    );
    expect(container.querySelector("img")).toBeNull();
    expect(container.querySelector("script")).toBeNull();
    expect(container.querySelector("[onclick]")).toBeNull();
    expect((window as { pwned?: number }).pwned).toBeUndefined();
  });

  it("drops javascript: links and opens others in a new tab", () => {
    const { container } = render(
      <Markdown text={"[bad](javascript:alert(1)) and [good](https://example.org/a)"} />,
    );
    const links = [...container.querySelectorAll("a")];
    expect(links.map((a) => a.getAttribute("href"))).not.toContain("javascript:alert(1)");
    const good = links.find((a) => a.textContent === "good");
    expect(good?.getAttribute("target")).toBe("_blank");
    expect(good?.getAttribute("rel")).toBe("noopener noreferrer");
  });
});
