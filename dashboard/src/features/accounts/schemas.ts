/** The account forms' schemas. Messages are i18n keys; the API checks everything again. */
import { z } from "zod";

const email = z.string().trim().min(1, "form.required").max(254).email("form.email.invalid");
const newPassword = z.string().min(10, "form.password.short").max(256);

export const signUpSchema = z.object({ email, password: newPassword });
export const signInSchema = z.object({
  email,
  password: z.string().min(1, "form.required").max(256),
  otp: z.string().trim().max(32),
});
export const forgotSchema = z.object({ email });
export const resetSchema = z.object({ password: newPassword });
export const changePasswordSchema = z.object({ current_password: z.string().min(1, "form.required").max(256), new_password: newPassword });
export const changeEmailSchema = z.object({ new_email: email, current_password: z.string().min(1, "form.required").max(256) });
export const deleteAccountSchema = z.object({ current_password: z.string().min(1, "form.required").max(256) });
