#!/usr/bin/env python3
"""Convert a terminal capture with ANSI colours (`tmux capture-pane -e -p`) to SVG.

Usage: ansi2svg.py WIDTH HEIGHT < capture.ansi > picture.svg

Handles SGR: reset, bold, dim, italic, underline, reverse, 16/256/truecolour
foreground and background. One cell = one character (the console only draws
single-width characters).
"""
import html
import re
import sys

CW, CH, FS = 8.4, 17, 14  # cell width, cell height, font size (px)
PAD = 10
BG, FG = "#1b1d23", "#d8dee9"
BASE16 = [
    "#1b1d23", "#e06c75", "#98c379", "#e5c07b", "#61afef", "#c678dd", "#56b6c2", "#abb2bf",
    "#5c6370", "#ff7b86", "#b5e890", "#ffd68a", "#7cc4ff", "#de9af0", "#76d6e2", "#ffffff",
]


def c256(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return "#%02x%02x%02x" % (v, v, v)


class Style:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None
        self.bg = None
        self.bold = self.dim = self.italic = self.under = self.rev = False

    def key(self):
        return (self.fg, self.bg, self.bold, self.dim, self.italic, self.under, self.rev)


def apply(st, params):
    p = [int(x) if x else 0 for x in params.split(";")] if params else [0]
    i = 0
    while i < len(p):
        n = p[i]
        if n == 0:
            st.reset()
        elif n == 1:
            st.bold = True
        elif n == 2:
            st.dim = True
        elif n == 3:
            st.italic = True
        elif n == 4:
            st.under = True
        elif n == 7:
            st.rev = True
        elif n == 22:
            st.bold = st.dim = False
        elif n == 23:
            st.italic = False
        elif n == 24:
            st.under = False
        elif n == 27:
            st.rev = False
        elif 30 <= n <= 37:
            st.fg = BASE16[n - 30]
        elif n == 39:
            st.fg = None
        elif 40 <= n <= 47:
            st.bg = BASE16[n - 40]
        elif n == 49:
            st.bg = None
        elif 90 <= n <= 97:
            st.fg = BASE16[n - 90 + 8]
        elif 100 <= n <= 107:
            st.bg = BASE16[n - 100 + 8]
        elif n in (38, 48) and i + 1 < len(p):
            if p[i + 1] == 5 and i + 2 < len(p):
                col = c256(p[i + 2])
                i += 2
            elif p[i + 1] == 2 and i + 4 < len(p):
                col = "#%02x%02x%02x" % (p[i + 2], p[i + 3], p[i + 4])
                i += 4
            else:
                col = None
            if n == 38:
                st.fg = col
            else:
                st.bg = col
        i += 1


def parse(text, width, height):
    """Rows of (char, style key)."""
    rows = []
    for line in text.split("\n")[:height]:
        st = Style()
        cells = []
        for m in re.finditer(r"\x1b\[([0-9;]*)m|\x1b\[[0-9;?]*[A-Za-z]|([^\x1b])", line):
            if m.group(2) is not None:
                cells.append((m.group(2), st.key()))
            elif m.group(0).endswith("m"):
                apply(st, m.group(1))
        cells = cells[:width]
        cells += [(" ", Style().key())] * (width - len(cells))
        rows.append(cells)
    while len(rows) < height:
        rows.append([(" ", Style().key())] * width)
    return rows


def main():
    width, height = int(sys.argv[1]), int(sys.argv[2])
    rows = parse(sys.stdin.read(), width, height)
    W, H = width * CW + 2 * PAD, height * CH + 2 * PAD
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W:.0f}" height="{H:.0f}" viewBox="0 0 {W:.0f} {H:.0f}">',
        f'<rect width="100%" height="100%" rx="6" fill="{BG}"/>',
        f'<g font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="{FS}" xml:space="preserve">',
    ]
    for y, cells in enumerate(rows):
        ty = PAD + y * CH
        # Backgrounds, merged into runs.
        x = 0
        while x < width:
            fg, bg, bold, dim, it, un, rev = cells[x][1]
            b = (fg or FG) if rev else bg
            run = x
            while run < width:
                f2, b2, _, _, _, _, r2 = cells[run][1]
                if ((f2 or FG) if r2 else b2) != b:
                    break
                run += 1
            if b:
                out.append(f'<rect x="{PAD + x * CW:.1f}" y="{ty}" width="{(run - x) * CW:.1f}" height="{CH}" fill="{b}"/>')
            x = run
        # Text, in runs of one style.
        x = 0
        while x < width:
            k = cells[x][1]
            run = x
            while run < width and cells[run][1] == k:
                run += 1
            s = "".join(c for c, _ in cells[x:run])
            if s.strip():
                fg, bg, bold, dim, it, un, rev = k
                col = (bg or BG) if rev else (fg or FG)
                attrs = [f'x="{PAD + x * CW:.1f}"', f'y="{ty + CH - 4}"', f'fill="{col}"', f'textLength="{(run - x) * CW:.1f}"', 'lengthAdjust="spacingAndGlyphs"']
                if bold:
                    attrs.append('font-weight="bold"')
                if dim:
                    attrs.append('opacity="0.6"')
                if it:
                    attrs.append('font-style="italic"')
                if un:
                    attrs.append('text-decoration="underline"')
                out.append(f"<text {' '.join(attrs)}>{html.escape(s)}</text>")
            x = run
    out.append("</g></svg>")
    print("\n".join(out))


if __name__ == "__main__":
    main()
