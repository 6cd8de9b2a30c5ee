/* test_simvotes.c: simulated volunteer votes follow the tree (a child question never
 * has more votes than the parent answer that leads to it), the spiral-arms "yes"
 * fraction of featured face-on discs rises with the true arm strength, probabilities
 * sum to one per question, and drawing is deterministic. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "zoomorph/simlabels.h"
#include "zoomorph/simvotes.h"

static zm_sim_cfg test_cfg(void)
{
    zm_sim_cfg c;
    memset(&c, 0, sizeof c);
    c.pixscale = 0.262;
    c.bar_fraction = 0.4;
    c.ring_fraction = 0.3;
    return c;
}

START_TEST(votes_follow_the_tree)
{
    zm_gz_schema s;
    zm_err err = {0};
    ck_assert_int_eq(zm_gz_schema_decals(&s, &err), 0);
    zm_sim_cfg cfg = test_cfg();
    double p[64], pr;
    int counts[64], totals[16], ring, counts2[64], totals2[16], ring2;
    for (int g = 0; g < 400; g++) {
        zm_rng r;
        zm_rng_seed(&r, 5, (uint64_t)g);
        zm_sim_object o;
        memset(&o, 0, sizeof o);
        zm_sim_draw_galaxy(&cfg, &r, g % ZM_SIM_STAR, 14.5 + 3.0 * zm_rng_uniform(&r),
                           2.0 + 10.0 * zm_rng_uniform(&r), 0, 0, &o);
        o.psf_fwhm[1] = 1.3f;
        zm_sim_vote_probs(&s, &o, p, &pr);
        for (int q = 0; q < s.nquestions; q++) {
            double sum = 0;
            for (int a = 0; a < s.q[q].nanswers; a++) sum += p[s.q[q].first + a];
            ck_assert_msg(fabs(sum - 1.0) < 1e-9, "question %s sums to %g", s.q[q].name, sum);
        }
        int nvol = 5 + g % 36;
        zm_rng_seed(&r, 9, (uint64_t)g);
        zm_sim_votes_draw(&s, p, pr, nvol, &r, counts, totals, &ring);
        zm_rng_seed(&r, 9, (uint64_t)g);
        zm_sim_votes_draw(&s, p, pr, nvol, &r, counts2, totals2, &ring2);
        ck_assert(memcmp(counts, counts2, sizeof(int) * s.nanswers) == 0 && ring == ring2);
        for (int q = 0; q < s.nquestions; q++) {
            int sum = 0;
            for (int a = 0; a < s.q[q].nanswers; a++) sum += counts[s.q[q].first + a];
            ck_assert_int_eq(sum, totals[q]);
            int par = s.q[q].parent;
            if (par < 0) ck_assert_int_eq(totals[q], nvol);
            else ck_assert_msg(totals[q] == counts[par], "question %s: %d votes, parent answer %d",
                               s.q[q].name, totals[q], counts[par]);
        }
        ck_assert(ring >= 0 && ring <= nvol);
    }
    zm_gz_schema_free(&s);
}
END_TEST

START_TEST(spiral_fraction_rises_with_arm_strength)
{
    zm_gz_schema s;
    zm_err err = {0};
    ck_assert_int_eq(zm_gz_schema_decals(&s, &err), 0);
    int yes = zm_gz_answer_find(&s, "has-spiral-arms_yes");
    int q = zm_gz_question_find(&s, "has-spiral-arms");
    zm_sim_cfg cfg = test_cfg();
    double sum[4] = {0}, prev = -1;
    int num[4] = {0};
    double p[64], pr;
    int counts[64], totals[16], ring;
    for (int g = 0; g < 2000; g++) {
        zm_rng r;
        zm_rng_seed(&r, 11, (uint64_t)g);
        zm_sim_object o;
        memset(&o, 0, sizeof o);
        zm_sim_draw_galaxy(&cfg, &r, ZM_SIM_SPIRAL, 15.0 + 2.5 * zm_rng_uniform(&r),
                           3.0 + 9.0 * zm_rng_uniform(&r), 0, 0, &o);
        o.psf_fwhm[1] = 1.3f;
        double arms = 0;
        for (int c = 0; c < o.g.ncomp; c++)
            if (o.g.comp[c].kind == ZM_COMP_ARMS) arms = o.g.comp[c].flux[1] / o.flux[1];
        zm_sim_vote_probs(&s, &o, p, &pr);
        zm_sim_votes_draw(&s, p, pr, 40, &r, counts, totals, &ring);
        if (totals[q] < 5) continue;
        int bin = arms < 0.15 ? 0 : arms < 0.22 ? 1 : arms < 0.3 ? 2 : 3;
        sum[bin] += (double)counts[yes] / totals[q];
        num[bin]++;
    }
    for (int b = 0; b < 4; b++) {
        double mean = sum[b] / num[b];
        printf("arm light share bin %d: %d galaxies, mean spiral-arms yes fraction %.3f\n", b, num[b], mean);
        ck_assert_int_gt(num[b], 20);
        ck_assert_msg(mean > prev, "bin %d: %.3f not above %.3f", b, mean, prev);
        prev = mean;
    }
    zm_gz_schema_free(&s);
}
END_TEST


/* Mergers and disturbed galaxies: the merging question follows them (mean "merger"
 * and "none" fractions by class), the edge-on-bulge question follows boxy bulges, and
 * the sparse labels: tags only on galaxies with the feature (before wrong tags), the
 * researcher's interest highest for mergers and lowest for plain galaxies. */
START_TEST(merging_votes_tags_and_interest_follow_truth)
{
    zm_gz_schema s;
    zm_err err = {0};
    ck_assert_int_eq(zm_gz_schema_decals(&s, &err), 0);
    zm_sim_cfg cfg = test_cfg();
    cfg.dust_fraction = 0.8;
    int a_none = zm_gz_answer_find(&s, "merging_none"), a_mer = zm_gz_answer_find(&s, "merging_merger");
    int a_box = zm_gz_answer_find(&s, "edge-on-bulge_boxy");
    ck_assert(a_none >= 0 && a_mer >= 0 && a_box >= 0);
    const int cls[4] = {ZM_SIM_SPIRAL, ZM_SIM_ELLIPTICAL, ZM_SIM_MERGER, ZM_SIM_DISTURBED};
    double mean_none[4] = {0}, mean_mer[4] = {0}, interest[4] = {0}, box[2] = {0};
    int nbox[2] = {0}, ntag_merger[4] = {0};
    const int N = 400;
    int t_merger = -1;
    for (int t = 0; t < zm_sim_ntags; t++)
        if (!strcmp(zm_sim_tag_names[t], "merger")) t_merger = t;
    ck_assert(t_merger >= 0);
    double p[64], pr;
    for (int c = 0; c < 4; c++)
        for (int g = 0; g < N; g++) {
            zm_rng r;
            zm_rng_seed(&r, 9, (uint64_t)(c * N + g));
            zm_sim_object o;
            memset(&o, 0, sizeof o);
            zm_sim_draw_galaxy(&cfg, &r, cls[c], 15.0 + 2.5 * zm_rng_uniform(&r), 4.0 + 8.0 * zm_rng_uniform(&r),
                               0, 0, &o);
            o.psf_fwhm[1] = 1.3f;
            zm_sim_vote_probs(&s, &o, p, &pr);
            mean_none[c] += p[a_none] / N, mean_mer[c] += p[a_mer] / N;
            interest[c] += zm_sim_interest_true(&o) / N;
            ntag_merger[c] += zm_sim_tag_prob(&o, t_merger) > 0;
        }
    for (int g = 0; g < N; g++) {
        zm_rng r;
        zm_rng_seed(&r, 10, (uint64_t)g);
        zm_sim_object o;
        memset(&o, 0, sizeof o);
        zm_sim_draw_galaxy(&cfg, &r, ZM_SIM_EDGEON, 15.0, 8.0, 0, 0, &o);
        o.psf_fwhm[1] = 1.3f;
        zm_sim_vote_probs(&s, &o, p, &pr);
        int boxy = 0;
        for (int k = 0; k < o.g.ncomp; k++)
            if (o.g.comp[k].kind == ZM_COMP_BULGE && o.g.comp[k].p[0] > 2.05f) boxy = 1;
        box[boxy] += p[a_box], nbox[boxy]++;
    }
    for (int c = 0; c < 4; c++)
        printf("class %-10s: mean merging none %.3f, merger %.3f; researcher interest %.2f; "
               "merger-taggable %d/%d\n", zm_sim_class_names[cls[c]], mean_none[c], mean_mer[c],
               interest[c], ntag_merger[c], N);
    printf("edge-on-bulge boxy: %.3f for boxy bulges (%d), %.3f for others (%d)\n", box[1] / nbox[1], nbox[1],
           box[0] / nbox[0], nbox[0]);
    ck_assert(mean_mer[2] > 3.0 * mean_mer[0] && mean_mer[2] > mean_mer[3]);
    ck_assert(mean_none[0] > mean_none[3] && mean_none[3] > mean_none[2]);
    ck_assert(interest[2] > 3.0 && interest[3] > 2.0 && interest[0] < 1.0 && interest[1] < 1.0);
    ck_assert(ntag_merger[0] == 0 && ntag_merger[1] == 0 && ntag_merger[2] == N);
    ck_assert(nbox[1] > 0 && box[1] / nbox[1] > 2.0 * box[0] / nbox[0]);
    zm_gz_schema_free(&s);
}
END_TEST

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    Suite *su = suite_create("simvotes");
    TCase *tc = tcase_create("simvotes");
    tcase_add_test(tc, votes_follow_the_tree);
    tcase_add_test(tc, spiral_fraction_rises_with_arm_strength);
    tcase_add_test(tc, merging_votes_tags_and_interest_follow_truth);
    suite_add_tcase(su, tc);
    int rc = zt_run_suite(su);
    MPI_Finalize();
    return rc;
}
