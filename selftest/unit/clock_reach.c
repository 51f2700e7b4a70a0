/* clock_reach.c */
