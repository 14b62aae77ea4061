// ELBv2 API errors that no retry fixes, with what to do about each: shared by the elbv2 observer
// (DescribeTargetHealth) and the fast lane's safety check (DescribeTargetGroupAttributes), which
// differ only in the permission they need and the policy file that grants it.

/** What to do about `code`, or undefined when a later call may succeed. */
export function unretryable(code: string, action: string, policyFile: string): string | undefined {
  switch (code) {
    case 'AccessDenied':
    case 'AccessDeniedException':
    case 'UnauthorizedOperation':
      return `the pod's role lacks elasticloadbalancing:${action} (see ${policyFile})`
    case 'TargetGroupNotFound':
    case 'TargetGroupNotFoundException':
      return 'no such target group: check --target-group-arn'
    case 'InvalidTarget':
    case 'InvalidTargetException':
      return 'the target is not valid for this group: check --target-id and --target-port'
    default:
      return undefined
  }
}
