package convert

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/compose"
)

// cronFields are the five fields of a crontab line: their ranges, and
// the names the month and weekday fields take.
var cronFields = []struct {
	lo, hi int
	names  []string
}{
	{0, 59, nil},
	{0, 23, nil},
	{1, 31, nil},
	{1, 12, []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{0, 7, []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// validCron reports whether a schedule is one the CronJob controller
// takes: five fields of values, ranges, lists and steps within each
// field's range, or one of the @ macros.
func validCron(cron string) bool {
	switch cron {
	case "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly":
		return true
	}
	fields := strings.Fields(cron)
	if len(fields) != 5 {
		return false
	}
	for i, f := range fields {
		spec := cronFields[i]
		value := func(v string) (int, bool) {
			if n, err := strconv.Atoi(v); err == nil {
				return n, n >= spec.lo && n <= spec.hi
			}
			if j := slices.Index(spec.names, strings.ToLower(v)); j >= 0 {
				return j + spec.lo, true
			}
			return 0, false
		}
		for _, item := range strings.Split(f, ",") {
			rng, step, stepped := strings.Cut(item, "/")
			if stepped {
				if n, err := strconv.Atoi(step); err != nil || n <= 0 || n > spec.hi-spec.lo+1 {
					return false
				}
			}
			if rng == "*" || (rng == "?" && (i == 2 || i == 4)) {
				continue
			}
			a, b, isRange := strings.Cut(rng, "-")
			x, ok := value(a)
			if !ok {
				return false
			}
			if isRange {
				y, ok := value(b)
				if !ok || y < x {
					return false
				}
			}
		}
	}
	return true
}

// jobsPass turns each compose job, converted as a service so far, into a
// CronJob per schedule: a job runs to completion when its trigger fires.
// A job that is only run by hand becomes a suspended CronJob, which
// `kubectl create job --from=cronjob/NAME` runs; no Service reaches a job.
func jobsPass(s *state) error {
	for _, name := range s.p.ServiceNames() {
		trig, ok := s.p.Triggers[name]
		w := s.pods[name]
		if !ok || w == nil {
			continue
		}
		m := objectMeta(w.obj)
		tmpl := w.tmpl.DeepCopy()
		tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
		label := m.Labels[LabelName]
		s.remove(func(o runtime.Object) bool {
			if svc, ok := o.(*corev1.Service); ok {
				return svc.Spec.Selector[LabelName] == label && label != ""
			}
			return o == w.obj
		})
		delete(s.pods, name)
		schedules := trig.Schedule
		if len(schedules) == 0 {
			schedules = []types.ScheduleConfig{{}}
		}
		// Each schedule copies the pod template: bound the copies before
		// making them.
		size, _ := json.Marshal(tmpl)
		if len(s.objs)+len(schedules) > MaxObjects || len(size)*len(schedules) > MaxOutputSize {
			file, line := s.p.Locate(name, "triggers", "schedule")
			return meshdock.Errorf(meshdock.ETOOLARGE, "%s:%d: jobs.%s.triggers.schedule: %d schedules of this job make more than %d objects or %s of manifests: at most that is accepted",
				file, line, name, len(schedules), MaxObjects, meshdock.FormatSize(MaxOutputSize))
		}
		for i, sched := range schedules {
			key := fmt.Sprintf("triggers.schedule.%d", i)
			cj := &batchv1.CronJob{
				TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
				ObjectMeta: *m.DeepCopy(),
				Spec: batchv1.CronJobSpec{
					ConcurrencyPolicy: batchv1.ForbidConcurrent,
					JobTemplate: batchv1.JobTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: tmpl.Labels},
						Spec:       batchv1.JobSpec{BackoffLimit: ptr.To(int32(0)), Template: *tmpl.DeepCopy()},
					},
				},
			}
			if i > 0 {
				cj.Name = fmt.Sprintf("%s-%d", m.Name, i+1)
			}
			cj.Name = cronJobName(s.uniqueName("CronJob", cj.Name, fmt.Sprintf("%s schedule %d", name, i)))
			if sched.Cron == "" {
				cj.Spec.Schedule, cj.Spec.Suspend = "@yearly", ptr.To(true)
				s.warn(name, "triggers", fmt.Sprintf("run by hand only: it is a suspended CronJob, run with kubectl create job --from=cronjob/%s %s-1", cj.Name, cj.Name))
			} else {
				if err := s.cronSchedule(name, key, sched, cj); err != nil {
					return err
				}
			}
			s.add(cj)
		}
	}
	return nil
}

// cronSchedule sets a CronJob's schedule from a compose schedule.
func (s *state) cronSchedule(name, key string, sched types.ScheduleConfig, cj *batchv1.CronJob) error {
	cron := strings.Join(strings.Fields(sched.Cron), " ")
	if !validCron(cron) {
		file, line := s.p.Locate(name, compose.SplitKey(key)...)
		return meshdock.Errorf(meshdock.EINVALID, "%s:%d: jobs.%s.%s: %q is not a crontab schedule (five fields, or @hourly, @daily and the like)", file, line, name, key, sched.Cron)
	}
	cj.Spec.Schedule = cron
	if tz := sched.Timezone; tz != "" {
		if _, err := time.LoadLocation(tz); err != nil || tz == "Local" || strings.HasPrefix(tz, "/") || strings.Contains(tz, "..") {
			s.warn(name, key+".timezone", fmt.Sprintf("%q is not a time zone of the tz database: the schedule runs in the cluster's time zone", tz))
		} else {
			cj.Spec.TimeZone = ptr.To(tz)
		}
	}
	switch sched.Concurrency {
	case "", "forbid":
	case "queue":
		s.warn(name, key+".concurrency", "queue is not carried over: a CronJob skips a run while the previous one is still running (Forbid)")
	}
	if sched.MissedFires == "skip" {
		// A missed run starts only within a minute of its time.
		cj.Spec.StartingDeadlineSeconds = ptr.To(int64(60))
	}
	return nil
}

// cronJobName shortens a name to the 52 characters a CronJob may have
// (the Jobs it starts add a suffix), keeping it unique with a hash.
func cronJobName(name string) string {
	if len(name) <= 52 {
		return name
	}
	return strings.Trim(name[:43], "-") + "-" + shortHash(name)
}

// objectMeta returns an object's metadata.
func objectMeta(o runtime.Object) *metav1.ObjectMeta {
	if a, ok := o.(interface{ GetObjectMeta() metav1.Object }); ok {
		if m, ok := a.GetObjectMeta().(*metav1.ObjectMeta); ok {
			return m
		}
	}
	return &metav1.ObjectMeta{}
}
