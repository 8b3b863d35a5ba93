/* ab_judge_hook.c: the judging step `hone ab run` calls after its answers (unless
 * --no-judge or a dry run): cli_ab_judge_after_run (cli.h). Judging belongs to `hone ab
 * judge` (helper "abjudge"): that branch replaces this placeholder (delete this file and
 * define the function next to `ab judge`, judging the spec's judges into the same db).
 * Until then it says, once, that no judge ran. */
#include "cli/cli.h"

int cli_ab_judge_after_run(const char *spec_path, const char *db_path, hone_ab_spec *spec,
                           hone_ab_store *store) {
    if (spec->n_judges)
        fprintf(stderr, "hone: ab run: judging is not built yet (hone ab judge); answers are in %s\n", db_path);
    return 0;
}
