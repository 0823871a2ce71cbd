// Tile layout: the rows × columns grid that gives n tiles of one aspect
// ratio the largest size inside a box, with gaps between tiles.

// bestGrid(n, width, height, aspect = 16/9, gap = 8) → {cols, rows, w, h}:
// every tile is w × h pixels (w / h = aspect), the grid fits the box.
export function bestGrid(n, width, height, aspect = 16 / 9, gap = 8) {
  if (n <= 0 || width <= 0 || height <= 0) return { cols: 0, rows: 0, w: 0, h: 0 };
  let best = { cols: 1, rows: n, w: 0, h: 0 };
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    // Skip shapes with a whole empty row or column.
    if ((rows - 1) * cols >= n) continue;
    const cellW = (width - gap * (cols - 1)) / cols;
    const cellH = (height - gap * (rows - 1)) / rows;
    if (cellW <= 0 || cellH <= 0) continue;
    let w = cellW;
    let h = w / aspect;
    if (h > cellH) {
      h = cellH;
      w = h * aspect;
    }
    if (w * h > best.w * best.h) best = { cols, rows, w: Math.floor(w), h: Math.floor(h) };
  }
  return best;
}

// aspectFor picks the tile aspect that wastes least: 16:9 on wide boxes,
// 4:3 on squarer ones (phones in portrait show taller tiles).
export function aspectFor(n, width, height, gap = 8) {
  const a = bestGrid(n, width, height, 16 / 9, gap);
  const b = bestGrid(n, width, height, 4 / 3, gap);
  return a.w * a.h >= b.w * b.h ? 16 / 9 : 4 / 3;
}

// layoutTiles sizes the children of a flex-wrap container so that they
// fill it: the container sets --tile-w and --tile-h.
export function layoutTiles(container, gap = 8) {
  const tiles = [...container.children].filter((el) => !el.hidden);
  const { width, height } = container.getBoundingClientRect();
  const aspect = aspectFor(tiles.length, width, height, gap);
  const g = bestGrid(tiles.length, width, height, aspect, gap);
  container.style.setProperty('--tile-w', g.w + 'px');
  container.style.setProperty('--tile-h', g.h + 'px');
  container.dataset.cols = String(g.cols);
  container.dataset.rows = String(g.rows);
  return g;
}
