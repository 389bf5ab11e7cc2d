// fcontext_switch - ns per one-way Boost.Context fcontext jump between two
// contexts, measured exactly like raw_switch.c (best of 5 runs of 10M).
// Prints: fcontext_switch_ns <v>
#include <boost/context/detail/fcontext.hpp>

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace ctx = boost::context::detail;

static const long kSwitches = 10000000L;  // one-way switches per run
static const int kRuns = 5;
static const std::size_t kStack = 64 * 1024;

static void bounce(ctx::transfer_t t)
{
	for (;;)
		t = ctx::jump_fcontext(t.fctx, t.data);
}

static double now_ns()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

int main()
{
	char *stack = static_cast<char *>(std::malloc(kStack));
	if (!stack)
		return 1;
	ctx::fcontext_t c = ctx::make_fcontext(stack + kStack, kStack, bounce);
	c = ctx::jump_fcontext(c, nullptr).fctx;  // start it
	double best = 1e30;
	for (int r = 0; r < kRuns; r++) {
		double t0 = now_ns();
		for (long i = 0; i < kSwitches / 2; i++)
			c = ctx::jump_fcontext(c, reinterpret_cast<void *>(i)).fctx;
		double ns = (now_ns() - t0) / kSwitches;
		if (ns < best)
			best = ns;
	}
	std::printf("fcontext_switch_ns %.2f\n", best);
	std::free(stack);
	return 0;
}
