#include <stdio.h>
int main(void) { puts("migrate"); return 0; }
