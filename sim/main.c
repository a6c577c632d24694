/* main.c - placeholder replaced by the command-line front end. */
#include "iosim/sim.h"
int main(void) { return 0; }
