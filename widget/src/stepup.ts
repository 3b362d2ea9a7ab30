// When a visual task (the step-up panel) may open: on the visitor's own request (the checkbox,
// Enter or Space on it, the form's submit, the page's execute()), and not once they went back to
// typing elsewhere: a modal opening then would take their focus and keystrokes.

/** A key that withdraws the request: a printable one (typing) outside the widget. Tab, Enter (a
 *  submit, itself a request) and Space or Enter on the checkbox do not. */
export const typingElsewhere = (key: string, inWidget: boolean): boolean => key.length < 2 && !inWidget;
