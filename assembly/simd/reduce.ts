// Horizontal reductions of one f32x4. The order is fixed so every engine gives the same bits.

/** [a,b,c,d] → (a+c)+(b+d) */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  const v2 = f32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));   // [a+c, b+d, c+a, d+b]
  return f32x4.extract_lane(v2, 0) + f32x4.extract_lane(v2, 1);
}

/** [a,b,c,d] → pmax(pmax(a,c), pmax(b,d)); pmax(x, y) = x < y ? y : x, so a NaN lane may be dropped. */
// @ts-ignore: decorator
@inline export function hmax(v: v128): f32 {
  const v2 = f32x4.pmax(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  const a = f32x4.extract_lane(v2, 0), b = f32x4.extract_lane(v2, 1);
  return a < b ? b : a;
}
