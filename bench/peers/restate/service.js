// Restate peer for `npm run bench`: the W1(b)/W2 shape — 3 journaled no-op steps (ctx.run).
const restate = require('@restatedev/restate-sdk');

const noop = (input) => input ?? null;

const bench = restate.service({
  name: 'Bench',
  handlers: {
    run: async (ctx, input) => {
      const a = await ctx.run('step1', () => noop(input));
      const b = await ctx.run('step2', () => noop(a));
      const c = await ctx.run('step3', () => noop(b));
      return c;
    },
  },
});

restate.endpoint().bind(bench).listen(Number(process.env.PORT ?? 9080));
