// Places as the request form takes them, and network x/y <-> WGS84 lon/lat on the page.
//
// The page has no projection library: GET /network/geometry gives each lane vertex in both
// network metres and lon/lat (when the net is geo-referenced), and a point is converted by an
// affine map fitted to the vertices around it. Over a few hundred metres any smooth map
// projection is affine to well under a metre, so a click converts as the server's pyproj
// would; far from every lane the fit widens and the error grows, but the server refuses such
// a point anyway (it is off the network).

/** "lat, lon" in decimal degrees (a comma between; spaces and a sign allowed). */
const LAT_LON = /^\s*([+-]?\d+(?:\.\d+)?)\s*,\s*([+-]?\d+(?:\.\d+)?)\s*$/;
/** Vertices fitted around a point: at least this many, spread over at least this (m). */
const MIN_POINTS = 6;
const MIN_SPREAD_M = 40;
const START_RADIUS_M = 150;
/** Metres per degree of latitude (WGS84 mean; the affine fit absorbs the exact scale). */
const M_PER_DEG = 111_195;

/**
 * A typed origin or destination: `{edge}` for an edge id, `{lat, lon}` for coordinates,
 * or `null` when the text is empty. The API checks both (unknown edge, off the network).
 */
export function parsePlace(text) {
  const t = (text || "").trim();
  if (!t) return null;
  const m = LAT_LON.exec(t);
  if (m) return { lat: Number(m[1]), lon: Number(m[2]) };
  return { edge: t };
}

/** Coordinates as the form shows them: "lat, lon", 7 decimals (about 1 cm). */
export function formatLatLon(lat, lon) {
  return `${lat.toFixed(7)}, ${lon.toFixed(7)}`;
}

/**
 * Network x/y (m) <-> lon/lat (degrees) from the geometry's lane vertices; `null` when the
 * net has no geo-reference (the geometry then carries no `lonlat`).
 */
export function geoFrame(geometry) {
  const lanes = (geometry.lanes || []).filter((l) => Array.isArray(l.lonlat) && l.lonlat.length === l.shape.length);
  if (!geometry.projected || !lanes.length) return null;
  const n = lanes.reduce((k, l) => k + l.shape.length, 0);
  const xy = new Float64Array(2 * n);
  const en = new Float64Array(2 * n); // lon/lat as local east/north metres around the origin
  const [lon0, lat0] = lanes[0].lonlat[0];
  const kx = M_PER_DEG * Math.cos((lat0 * Math.PI) / 180);
  let i = 0;
  for (const lane of lanes) {
    lane.shape.forEach(([x, y], j) => {
      const [lon, lat] = lane.lonlat[j];
      xy[2 * i] = x;
      xy[2 * i + 1] = y;
      en[2 * i] = (lon - lon0) * kx;
      en[2 * i + 1] = (lat - lat0) * M_PER_DEG;
      i++;
    });
  }
  return {
    /** [lon, lat] of network point (x, y). */
    toLonLat(x, y) {
      const [e, north] = fitAt(xy, en, x, y);
      return [lon0 + e / kx, lat0 + north / M_PER_DEG];
    },
    /** [x, y] (network m) of WGS84 point (lon, lat). */
    toXY(lon, lat) {
      return fitAt(en, xy, (lon - lon0) * kx, (lat - lat0) * M_PER_DEG);
    },
  };
}

/**
 * The image of (px, py) under the affine map fitted (least squares) from `src` to `dst`
 * (flat [x0, y0, x1, y1, ...] arrays of matching points) on the points nearest it. Points on
 * one straight road cannot fix an affine map; there the fit is a similarity (rotation and
 * scale), which a conformal projection such as UTM is locally.
 */
export function fitAt(src, dst, px, py) {
  const n = src.length / 2;
  const d2 = new Float64Array(n);
  for (let i = 0; i < n; i++) d2[i] = (src[2 * i] - px) ** 2 + (src[2 * i + 1] - py) ** 2;
  let r2 = START_RADIUS_M ** 2;
  for (;;) {
    const near = [];
    for (let i = 0; i < n; i++) if (d2[i] <= r2) near.push(i);
    const s = moments(src, dst, near);
    const enough = near.length >= MIN_POINTS && s.sxx + s.syy >= MIN_SPREAD_M ** 2;
    if (enough || near.length === n) return apply(s, px, py);
    r2 *= 4;
  }
}

function moments(src, dst, idx) {
  const s = { n: idx.length, mx: 0, my: 0, mu: 0, mv: 0, sxx: 0, sxy: 0, syy: 0, sxu: 0, syu: 0, sxv: 0, syv: 0 };
  if (!idx.length) return s;
  for (const i of idx) {
    s.mx += src[2 * i]; s.my += src[2 * i + 1]; s.mu += dst[2 * i]; s.mv += dst[2 * i + 1];
  }
  s.mx /= s.n; s.my /= s.n; s.mu /= s.n; s.mv /= s.n;
  for (const i of idx) {
    const x = src[2 * i] - s.mx, y = src[2 * i + 1] - s.my;
    const u = dst[2 * i] - s.mu, v = dst[2 * i + 1] - s.mv;
    s.sxx += x * x; s.sxy += x * y; s.syy += y * y;
    s.sxu += x * u; s.syu += y * u; s.sxv += x * v; s.syv += y * v;
  }
  // Per point (m²): the thresholds below compare spreads, not sums over many vertices.
  for (const k of ["sxx", "sxy", "syy", "sxu", "syu", "sxv", "syv"]) s[k] /= s.n;
  return s;
}

function apply(s, px, py) {
  const x = px - s.mx, y = py - s.my;
  if (!s.n) return [px, py];
  const det = s.sxx * s.syy - s.sxy * s.sxy;
  const tr = s.sxx + s.syy;
  // Both directions spread over at least MIN_SPREAD_M / 4: a full affine map is determined.
  if (det > ((MIN_SPREAD_M / 4) ** 2) * tr) {
    const a = (s.sxu * s.syy - s.syu * s.sxy) / det, b = (s.syu * s.sxx - s.sxu * s.sxy) / det;
    const c = (s.sxv * s.syy - s.syv * s.sxy) / det, d = (s.syv * s.sxx - s.sxv * s.sxy) / det;
    return [s.mu + a * x + b * y, s.mv + c * x + d * y];
  }
  if (tr <= 0) return [s.mu, s.mv];
  // Similarity w = q z (complex): q = sum(w conj z) / sum |z|².
  const qr = (s.sxu + s.syv) / tr, qi = (s.sxv - s.syu) / tr;
  return [s.mu + qr * x - qi * y, s.mv + qi * x + qr * y];
}
