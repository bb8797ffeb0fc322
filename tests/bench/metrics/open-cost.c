// The kernel's part of a scrape, alone: the 8 cgroup v1 stat files a scrape reads per unit, opened
// four ways, each open followed by one read and a close as the daemon does: the full path (main
// before issue 18's second scrape round), openat(slice dir, "UNIT/FILE") (what the daemon does now:
// one O_PATH fd per slice and hierarchy), openat(unit dir, "FILE") (an fd per unit and hierarchy),
// and pread at offset 0 of files kept open (8 fds per unit). Run by open-cost.sh; prints the CPU
// time (CLOCK_PROCESS_CPUTIME_ID, user+system) of one pass over all units, best of ROUNDS.
// usage: open-cost ROOT UNITS ROUNDS   (cgroups ROOT/s1.service … ROOT/sUNITS.service in each hierarchy)
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
static const char *hier[] = {"memory","memory","memory","memory","cpu","cpuacct","pids","blkio"};
static const char *file[] = {"memory.usage_in_bytes","memory.max_usage_in_bytes","memory.stat","memory.oom_control","cpu.stat","cpuacct.usage","pids.current","blkio.throttle.io_service_bytes_recursive"};
static double cpu(void){struct timespec t;clock_gettime(CLOCK_PROCESS_CPUTIME_ID,&t);return t.tv_sec*1e3+t.tv_nsec/1e6;}
int main(int argc,char**argv){
  const char*root=argv[1]; int n=atoi(argv[2]); int rounds=atoi(argv[3]);
  static char buf[65536], path[512];
  int parent[8]; int *unitfd=malloc(sizeof(int)*8*n);
  for(int h=0;h<8;h++){snprintf(path,sizeof path,"/sys/fs/cgroup/%s/%s",hier[h],root);parent[h]=open(path,O_PATH|O_DIRECTORY|O_CLOEXEC);}
  for(int u=0;u<n;u++)for(int h=0;h<8;h++){snprintf(path,sizeof path,"/sys/fs/cgroup/%s/%s/s%d.service",hier[h],root,u+1);unitfd[u*8+h]=open(path,O_PATH|O_DIRECTORY|O_CLOEXEC);}
  int *filefd=malloc(sizeof(int)*8*n);
  for(int u=0;u<n;u++)for(int h=0;h<8;h++)filefd[u*8+h]=openat(unitfd[u*8+h],file[h],O_RDONLY|O_CLOEXEC);
  for(int mode=0;mode<4;mode++){
    double best=1e18;
    for(int r=0;r<rounds;r++){
      double t0=cpu(); int errs=0;
      for(int u=0;u<n;u++)for(int h=0;h<8;h++){
        int fd;
        if(mode==0){snprintf(path,sizeof path,"/sys/fs/cgroup/%s/%s/s%d.service/%s",hier[h],root,u+1,file[h]);fd=open(path,O_RDONLY|O_CLOEXEC);}
        else if(mode==1){snprintf(path,sizeof path,"s%d.service/%s",u+1,file[h]);fd=openat(parent[h],path,O_RDONLY|O_CLOEXEC);}
        else if(mode==3){if(pread(filefd[u*8+h],buf,sizeof buf,0)<0)errs++;continue;}
        else fd=openat(unitfd[u*8+h],file[h],O_RDONLY|O_CLOEXEC);
        if(fd<0){errs++;continue;}
        if(read(fd,buf,sizeof buf)<0)errs++;
        close(fd);
      }
      double t=cpu()-t0; if(t<best)best=t;
      if(errs)fprintf(stderr,"mode %d: %d errors\n",mode,errs);
    }
    printf("%-28s %.1f ms CPU per %d units x 8 files (best of %d)\n", mode==0?"full path":mode==1?"openat(slice dir, unit/file)":mode==2?"openat(unit dir, file)":"pread(held file fd, 0)", best, n, rounds);
  }
  return 0;
}
