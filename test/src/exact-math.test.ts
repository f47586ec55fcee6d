// test/src/exact-math.test.ts ↔ src/exact-math.ts: cos, sin, ln, exp and pow from + − × ÷ only (so
// every engine gives the same bits; the rotary tables are made with them). Against Math.* (float64,
// within an ulp or so of the true values): sincos to 4e-16 absolute over |x| < 4, up to 1e5 and up to
// 2^31 (the positions RoPE takes), exact at 0 and at multiples of π/2 (quadrant signs); pow to 1e-14
// relative over bases 1e-2 … 1e12 and exponents in [−1, 1] (RoPE's base^(−2d/dim)).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { rng } from "../helpers.js";
import { exp, log, pow, sincos } from "../../src/exact-math.js";

test("sincos = Math.cos/Math.sin to 4e-16 over |x| < 4, < 1e5 and < 2^31; quadrants; 0", () => {
  const r = rng(1);
  for (const range of [4, 1e5, 2 ** 31]) {
    let worst = 0;
    for (let i = 0; i < 50000; i++) {
      const x = (2 * r() - 1) * range;
      const [c, s] = sincos(x);
      worst = Math.max(worst, Math.abs(c - Math.cos(x)), Math.abs(s - Math.sin(x)));
    }
    assert.ok(worst <= 4e-16, `|x| < ${range}: worst ${worst}`);
  }
  assert.equal(sincos(0), [1, 0]);
  for (let k = -8; k <= 8; k++) {
    const [c, s] = sincos(k * Math.PI / 2);
    assert.ok(Math.abs(c - Math.cos(k * Math.PI / 2)) < 1e-15 && Math.abs(s - Math.sin(k * Math.PI / 2)) < 1e-15, `k = ${k}: ${c}, ${s}`);
  }
});

test("pow, log and exp = Math's to 1e-14 relative (RoPE's bases and exponents); pow(b, 0) = 1", () => {
  const r = rng(2);
  let worst = 0;
  for (let i = 0; i < 50000; i++) {
    const b = 10 ** (14 * r() - 2), y = 2 * r() - 1;
    worst = Math.max(worst, Math.abs(pow(b, y) - Math.pow(b, y)) / Math.pow(b, y));
  }
  assert.ok(worst <= 1e-14, `pow: worst ${worst}`);
  for (const b of [1e-3, 0.5, 1, 2, 10000, 500000, 1e12]) assert.ok(Math.abs(log(b) - Math.log(b)) <= 1e-15 * Math.max(1, Math.abs(Math.log(b))), `log ${b}`);
  for (const y of [-30, -1, -1e-8, 0, 1e-8, 0.5, 1, 30]) assert.ok(Math.abs(exp(y) - Math.exp(y)) <= 4e-16 * Math.exp(y), `exp ${y}`);
  assert.is(pow(10000, 0), 1);
});

test.run();
