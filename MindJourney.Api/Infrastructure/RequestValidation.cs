using System.ComponentModel.DataAnnotations;
using System.Reflection;

namespace MindJourney.Api.Infrastructure;

/// <summary>
/// Request validation, set once on a route group: before a handler runs, its arguments are checked against the
/// rules they declare (DataAnnotations attributes on a request record's properties or on a handler's parameter,
/// <see cref="IValidatableObject"/> for a rule across fields). The first broken rule is the 400's detail, so a
/// handler meets only requests that keep them. Absent optional values (null) have nothing to check.
/// </summary>
public static class RequestValidation
{
    public static TBuilder WithRequestValidation<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilterFactory(static (context, next) =>
        {
            var rules = Array.ConvertAll(context.MethodInfo.GetParameters(), Rules.Of);
            if (Array.TrueForAll(rules, rule => rule is null))
            {
                return next;
            }

            return invocation =>
            {
                for (var i = 0; i < rules.Length; i++)
                {
                    if (rules[i]?.Problem(invocation.Arguments[i], invocation.HttpContext.RequestServices) is { } detail)
                    {
                        return ValueTask.FromResult<object?>(Problems.BadRequest(detail));
                    }
                }

                return next(invocation);
            };
        });

    /// <summary>Null when <paramref name="request"/> keeps its record's rules, else the first it breaks: for a body
    /// the handler reads itself.</summary>
    public static string? Problem(object request, IServiceProvider? services = null) =>
        new Rules(request.GetType().Name, [], Record: true).Problem(request, services);

    /// <summary>What one parameter declares: attributes on the parameter, and whether its type is a record with rules.</summary>
    private sealed record Rules(string Name, ValidationAttribute[] Attributes, bool Record)
    {
        public static Rules? Of(ParameterInfo parameter)
        {
            var attributes = parameter.GetCustomAttributes<ValidationAttribute>().ToArray();
            var type = parameter.ParameterType;
            var record = typeof(IValidatableObject).IsAssignableFrom(type)
                || type.GetProperties().Any(property => property.IsDefined(typeof(ValidationAttribute)));
            return attributes.Length > 0 || record ? new Rules(parameter.Name!, attributes, record) : null;
        }

        public string? Problem(object? value, IServiceProvider? services)
        {
            if (value is null)
            {
                return null;
            }

            var broken = new List<ValidationResult>();
            var context = new ValidationContext(value, services, items: null) { DisplayName = Name, MemberName = Name };
            var kept = Validator.TryValidateValue(value, context, broken, Attributes)
                && (!Record || Validator.TryValidateObject(value, new ValidationContext(value, services, items: null), broken,
                    validateAllProperties: true));
            return kept ? null : broken[0].ErrorMessage ?? $"{Name} is not valid.";
        }
    }
}
